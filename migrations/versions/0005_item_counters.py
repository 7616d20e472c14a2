"""per-item and per-membership counters kept by the database, for a cost per request that does
not grow with the study

Each item (``comparisons``) carries its ``judgment_count``, its ``load`` (assignments leased or
done, plus judgments that came without an assignment, such as imports: what stands between the
item and k more reviewers; a vote turns a lease into a done assignment, so it leaves the load as
it was), a ``revision`` that grows with every judgment or judge
verdict added, changed or removed, and a random ``shuffle`` key; each membership
(``study_reviewers``) its ``done`` (judgments) and ``skipped`` counts. Triggers keep them, in the
same transaction as the row that changes them, whatever writes it (a vote, a skip, an import, a
cascade). (On SQLite, a later migration that rebuilds ``comparisons`` in batch mode must drop
and recreate these triggers around it: they name the table.) An index on (study, selected, load, shuffle) lets "the next item" read a handful of
rows at any study size; one on (status, expires_at) finds expired leases.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 20:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = [
    """CREATE TRIGGER review_judgment_added AFTER INSERT ON judgments BEGIN
        UPDATE comparisons SET judgment_count = judgment_count + 1,
               load = load + (NEW.assignment_id IS NULL), revision = revision + 1
               WHERE id = NEW.comparison_id;
        UPDATE study_reviewers SET done = done + 1 WHERE reviewer_id = NEW.reviewer_id
               AND study_id = (SELECT study_id FROM comparisons WHERE id = NEW.comparison_id);
    END""",
    """CREATE TRIGGER review_judgment_removed AFTER DELETE ON judgments BEGIN
        UPDATE comparisons SET judgment_count = judgment_count - 1,
               load = load - (OLD.assignment_id IS NULL), revision = revision + 1
               WHERE id = OLD.comparison_id;
        UPDATE study_reviewers SET done = done - 1 WHERE reviewer_id = OLD.reviewer_id
               AND study_id = (SELECT study_id FROM comparisons WHERE id = OLD.comparison_id);
    END""",
    """CREATE TRIGGER review_judgment_changed AFTER UPDATE ON judgments BEGIN
        UPDATE comparisons SET revision = revision + 1,
               load = load + (NEW.assignment_id IS NULL) - (OLD.assignment_id IS NULL)
               WHERE id = NEW.comparison_id;
    END""",
    """CREATE TRIGGER review_assignment_added AFTER INSERT ON assignments BEGIN
        UPDATE comparisons SET load = load + 1
               WHERE NEW.status IN ('leased', 'done') AND id = NEW.comparison_id;
        UPDATE study_reviewers SET skipped = skipped + 1 WHERE NEW.status = 'skipped'
               AND reviewer_id = NEW.reviewer_id
               AND study_id = (SELECT study_id FROM comparisons WHERE id = NEW.comparison_id);
    END""",
    """CREATE TRIGGER review_assignment_status AFTER UPDATE OF status ON assignments
       WHEN OLD.status <> NEW.status BEGIN
        UPDATE comparisons SET load = load + (NEW.status IN ('leased', 'done'))
                                          - (OLD.status IN ('leased', 'done'))
               WHERE (NEW.status IN ('leased', 'done')) <> (OLD.status IN ('leased', 'done'))
               AND id = NEW.comparison_id;
        UPDATE study_reviewers SET skipped = skipped + (NEW.status = 'skipped') - (OLD.status = 'skipped')
               WHERE (NEW.status = 'skipped') <> (OLD.status = 'skipped') AND reviewer_id = NEW.reviewer_id
               AND study_id = (SELECT study_id FROM comparisons WHERE id = NEW.comparison_id);
    END""",
    """CREATE TRIGGER review_assignment_removed AFTER DELETE ON assignments BEGIN
        UPDATE comparisons SET load = load - 1
               WHERE OLD.status IN ('leased', 'done') AND id = OLD.comparison_id;
        UPDATE study_reviewers SET skipped = skipped - 1 WHERE OLD.status = 'skipped'
               AND reviewer_id = OLD.reviewer_id
               AND study_id = (SELECT study_id FROM comparisons WHERE id = OLD.comparison_id);
    END""",
    """CREATE TRIGGER review_verdict_added AFTER INSERT ON judge_verdicts BEGIN
        UPDATE comparisons SET revision = revision + 1 WHERE id = NEW.comparison_id;
    END""",
    """CREATE TRIGGER review_verdict_changed AFTER UPDATE ON judge_verdicts BEGIN
        UPDATE comparisons SET revision = revision + 1 WHERE id = NEW.comparison_id;
    END""",
    """CREATE TRIGGER review_verdict_removed AFTER DELETE ON judge_verdicts BEGIN
        UPDATE comparisons SET revision = revision + 1 WHERE id = OLD.comparison_id;
    END""",
]
SQLITE_TRIGGER_NAMES = ["review_judgment_added", "review_judgment_removed", "review_judgment_changed",
                        "review_assignment_added", "review_assignment_status",
                        "review_assignment_removed", "review_verdict_added", "review_verdict_changed",
                        "review_verdict_removed"]

POSTGRES_FUNCTIONS = [
    """CREATE OR REPLACE FUNCTION review_count_judgment() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE item integer; rater integer; step integer; unassigned integer;
    BEGIN
        IF TG_OP = 'UPDATE' THEN
            UPDATE comparisons SET revision = revision + 1,
                   load = load + (NEW.assignment_id IS NULL)::integer - (OLD.assignment_id IS NULL)::integer
                   WHERE id = NEW.comparison_id;
            RETURN NULL;
        ELSIF TG_OP = 'INSERT' THEN
            item := NEW.comparison_id; rater := NEW.reviewer_id; step := 1;
            unassigned := (NEW.assignment_id IS NULL)::integer;
        ELSE
            item := OLD.comparison_id; rater := OLD.reviewer_id; step := -1;
            unassigned := -(OLD.assignment_id IS NULL)::integer;
        END IF;
        UPDATE comparisons SET judgment_count = judgment_count + step, load = load + unassigned,
               revision = revision + 1 WHERE id = item;
        UPDATE study_reviewers SET done = done + step WHERE reviewer_id = rater
               AND study_id = (SELECT study_id FROM comparisons WHERE id = item);
        RETURN NULL;
    END $$""",
    """CREATE OR REPLACE FUNCTION review_count_assignment() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE item integer; rater integer; load_step integer; skip_step integer;
    BEGIN
        IF TG_OP = 'INSERT' THEN
            item := NEW.comparison_id; rater := NEW.reviewer_id;
            load_step := (NEW.status IN ('leased', 'done'))::integer;
            skip_step := (NEW.status = 'skipped')::integer;
        ELSIF TG_OP = 'DELETE' THEN
            item := OLD.comparison_id; rater := OLD.reviewer_id;
            load_step := -(OLD.status IN ('leased', 'done'))::integer;
            skip_step := -(OLD.status = 'skipped')::integer;
        ELSE
            IF OLD.status = NEW.status THEN RETURN NULL; END IF;
            item := NEW.comparison_id; rater := NEW.reviewer_id;
            load_step := (NEW.status IN ('leased', 'done'))::integer
                       - (OLD.status IN ('leased', 'done'))::integer;
            skip_step := (NEW.status = 'skipped')::integer - (OLD.status = 'skipped')::integer;
        END IF;
        IF load_step <> 0 THEN
            UPDATE comparisons SET load = load + load_step WHERE id = item;
        END IF;
        IF skip_step <> 0 THEN
            UPDATE study_reviewers SET skipped = skipped + skip_step
                   WHERE reviewer_id = rater AND study_id = (SELECT study_id FROM comparisons WHERE id = item);
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE OR REPLACE FUNCTION review_count_verdict() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE comparisons SET revision = revision + 1
               WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.comparison_id ELSE NEW.comparison_id END;
        RETURN NULL;
    END $$""",
]
POSTGRES_TRIGGERS = [
    "CREATE TRIGGER review_count_judgment AFTER INSERT OR UPDATE OR DELETE ON judgments "
    "FOR EACH ROW EXECUTE FUNCTION review_count_judgment()",
    "CREATE TRIGGER review_count_assignment AFTER INSERT OR UPDATE OF status OR DELETE ON assignments "
    "FOR EACH ROW EXECUTE FUNCTION review_count_assignment()",
    "CREATE TRIGGER review_count_verdict AFTER INSERT OR UPDATE OR DELETE ON judge_verdicts "
    "FOR EACH ROW EXECUTE FUNCTION review_count_verdict()",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table('comparisons', schema=None) as batch_op:
        batch_op.add_column(sa.Column('judgment_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('load', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('revision', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('shuffle', sa.Float(), server_default='0', nullable=False))
        batch_op.create_index('ix_comparisons_queue', ['study_id', 'human_selected', 'load', 'shuffle'],
                              unique=False)
        batch_op.create_index('ix_comparisons_study_id_gold_label', ['study_id', 'gold_label'], unique=False)
    with op.batch_alter_table('study_reviewers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('done', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('skipped', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index('ix_assignments_status_expires_at', ['status', 'expires_at'], unique=False)

    # What is there already, counted once.
    random_key = "random()" if dialect == "postgresql" else "(abs(random()) % 1000000007) / 1000000007.0"
    op.execute(f"""
        UPDATE comparisons SET
            judgment_count = (SELECT count(*) FROM judgments j WHERE j.comparison_id = comparisons.id),
            load = (SELECT count(*) FROM judgments j WHERE j.comparison_id = comparisons.id
                    AND j.assignment_id IS NULL)
                 + (SELECT count(*) FROM assignments a WHERE a.comparison_id = comparisons.id
                    AND a.status IN ('leased', 'done')),
            revision = (SELECT count(*) FROM judgments j WHERE j.comparison_id = comparisons.id)
                     + (SELECT count(*) FROM judge_verdicts v WHERE v.comparison_id = comparisons.id),
            shuffle = {random_key}""")
    op.execute("""
        UPDATE study_reviewers SET
            done = (SELECT count(*) FROM judgments j JOIN comparisons c ON c.id = j.comparison_id
                    WHERE j.reviewer_id = study_reviewers.reviewer_id
                    AND c.study_id = study_reviewers.study_id),
            skipped = (SELECT count(*) FROM assignments a JOIN comparisons c ON c.id = a.comparison_id
                       WHERE a.reviewer_id = study_reviewers.reviewer_id
                       AND c.study_id = study_reviewers.study_id AND a.status = 'skipped')""")
    if dialect == "postgresql":
        # Room on each page for a changed row's new version next to the old one (a vote's
        # counters are not indexed: PostgreSQL can then update them in place, "HOT").
        op.execute("ALTER TABLE comparisons SET (fillfactor = 80)")
        for statement in [*POSTGRES_FUNCTIONS, *POSTGRES_TRIGGERS]:
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE comparisons RESET (fillfactor)")
        for table, name in (("judgments", "review_count_judgment"), ("assignments", "review_count_assignment"),
                            ("judge_verdicts", "review_count_verdict")):
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    else:
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_assignments_status_expires_at')
    with op.batch_alter_table('study_reviewers', schema=None) as batch_op:
        batch_op.drop_column('skipped')
        batch_op.drop_column('done')
    with op.batch_alter_table('comparisons', schema=None) as batch_op:
        batch_op.drop_index('ix_comparisons_study_id_gold_label')
        batch_op.drop_index('ix_comparisons_queue')
        batch_op.drop_column('shuffle')
        batch_op.drop_column('revision')
        batch_op.drop_column('load')
        batch_op.drop_column('judgment_count')
