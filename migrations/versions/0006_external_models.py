"""models of kind 'external': answers generated elsewhere and imported, no weights

Only the check constraint on ``models.kind`` changes. PostgreSQL alters it in place. SQLite
cannot alter a constraint, so the ``models`` table is rebuilt in batch mode (copy, drop, rename).
SQLite refuses to drop a table that other rows refer to (generations, studies, a model's base)
while foreign keys are enforced, and enforcement can only be switched between transactions: the
upgrade so far is committed, the table is rebuilt in a transaction of its own with enforcement
off, every reference is checked before that transaction commits, and enforcement is back on
for the rest of the upgrade. If the rebuild fails, the database stays at revision 0005.

The triggers of revision 0005 name ``comparisons`` and ``study_reviewers``, not ``models``, so
the rebuild leaves them as they are.

Downgrading refuses while models of kind 'external' exist: their answers would be left behind a
kind the older schema does not know.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 10:00:00
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

KINDS_0005 = ('base', 'finetune', 'adapter', 'endpoint')
KINDS_0006 = (*KINDS_0005, 'external')


def _kind_check(kinds: tuple[str, ...]) -> str:
    return "kind IN (" + ", ".join(f"'{kind}'" for kind in kinds) + ")"


def _models_table(kinds: tuple[str, ...]) -> sa.Table:
    """The ``models`` table as revision 0001 made it, with the kinds given."""
    return sa.Table(
        'models', sa.MetaData(),
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('location', sa.Text(), nullable=False),
        sa.Column('base_model_id', sa.Integer(), nullable=True),
        sa.Column('content_hash', sa.String(length=64), nullable=True),
        sa.Column('training_step', sa.Integer(), nullable=True),
        sa.Column('run_name', sa.String(length=200), nullable=True),
        sa.Column('metadata', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_kind_check(kinds), name='ck_models_kind'),
        sa.ForeignKeyConstraint(['base_model_id'], ['models.id'], name='fk_models_base_model_id_models',
                                ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id', name='pk_models'),
        sa.UniqueConstraint('name', name='uq_models_name'),
        sa.Index('ix_models_content_hash', 'content_hash'),
    )


@contextmanager
def _sqlite_foreign_keys_off(bind: sa.engine.Connection) -> Iterator[None]:
    """Run the block in a transaction of its own with foreign keys not enforced, and commit it
    only if every reference still holds (see the module docstring for why)."""
    bind.exec_driver_sql("COMMIT")
    bind.exec_driver_sql("PRAGMA foreign_keys=OFF")
    bind.exec_driver_sql("BEGIN IMMEDIATE")
    try:
        yield
        broken = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"rebuilding 'models' would break {len(broken)} references, "
                               f"e.g. {tuple(broken[0])}; nothing was changed")
        bind.exec_driver_sql("COMMIT")
    except BaseException:
        bind.exec_driver_sql("ROLLBACK")
        raise
    finally:
        bind.exec_driver_sql("PRAGMA foreign_keys=ON")
        # Alembic records the new revision next, and the caller commits: in a transaction again.
        bind.exec_driver_sql("BEGIN IMMEDIATE")


def _replace_kind_check(before: tuple[str, ...], after: tuple[str, ...]) -> None:
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        op.drop_constraint(op.f('ck_models_kind'), 'models', type_='check')
        op.create_check_constraint(op.f('ck_models_kind'), 'models', _kind_check(after))
        return
    with _sqlite_foreign_keys_off(bind):
        with op.batch_alter_table('models', copy_from=_models_table(before),
                                  recreate='always') as batch_op:
            batch_op.drop_constraint(op.f('ck_models_kind'), type_='check')
            batch_op.create_check_constraint(op.f('ck_models_kind'), _kind_check(after))


def upgrade() -> None:
    _replace_kind_check(KINDS_0005, KINDS_0006)


def downgrade() -> None:
    external = op.get_bind().execute(sa.text(
        "SELECT name FROM models WHERE kind = 'external' ORDER BY id")).scalars().all()
    if external:
        raise RuntimeError(f"cannot downgrade below revision 0006: {len(external)} models of kind "
                           f"'external' exist ({', '.join(external[:5])}"
                           f"{', ...' if len(external) > 5 else ''})")
    _replace_kind_check(KINDS_0006, KINDS_0005)
