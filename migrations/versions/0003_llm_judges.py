"""llm raters, their verdicts in both orders, and active selection of items for people

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 18:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('reviewers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=20), server_default='human', nullable=False))
        batch_op.add_column(sa.Column('judge_model_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('judge_params', sa.JSON(), nullable=True))
        batch_op.create_check_constraint('kind', "kind IN ('human', 'llm')")
        batch_op.create_foreign_key(batch_op.f('fk_reviewers_judge_model_id_models'), 'models',
                                    ['judge_model_id'], ['id'], ondelete='RESTRICT')
    with op.batch_alter_table('studies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('judge_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('human_budget', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_studies_judge_id_reviewers'), 'reviewers',
                                    ['judge_id'], ['id'], ondelete='SET NULL')
    with op.batch_alter_table('comparisons', schema=None) as batch_op:
        batch_op.add_column(sa.Column('human_probability', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('human_selected', sa.Boolean(), server_default=sa.true(), nullable=False))

    op.create_table('judge_verdicts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('comparison_id', sa.Integer(), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('judge_order', sa.String(length=2), nullable=False),
    sa.Column('choice', sa.String(length=20), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('raw_output', sa.Text(), nullable=True),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("judge_order IN ('ab', 'ba')", name=op.f('ck_judge_verdicts_judge_order')),
    sa.CheckConstraint("choice IS NULL OR choice IN ('a', 'b', 'tie', 'both_bad')", name=op.f('ck_judge_verdicts_choice')),
    sa.CheckConstraint('confidence IS NULL OR (confidence >= 0 AND confidence <= 1)', name=op.f('ck_judge_verdicts_confidence_range')),
    sa.ForeignKeyConstraint(['comparison_id'], ['comparisons.id'], name=op.f('fk_judge_verdicts_comparison_id_comparisons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewer_id'], ['reviewers.id'], name=op.f('fk_judge_verdicts_reviewer_id_reviewers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_judge_verdicts')),
    sa.UniqueConstraint('comparison_id', 'reviewer_id', 'judge_order', name=op.f('uq_judge_verdicts_comparison_id_reviewer_id_judge_order'))
    )
    with op.batch_alter_table('judge_verdicts', schema=None) as batch_op:
        batch_op.create_index('ix_judge_verdicts_reviewer_id', ['reviewer_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('judge_verdicts', schema=None) as batch_op:
        batch_op.drop_index('ix_judge_verdicts_reviewer_id')
    op.drop_table('judge_verdicts')
    with op.batch_alter_table('comparisons', schema=None) as batch_op:
        batch_op.drop_column('human_selected')
        batch_op.drop_column('human_probability')
    with op.batch_alter_table('studies', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_studies_judge_id_reviewers'), type_='foreignkey')
        batch_op.drop_column('human_budget')
        batch_op.drop_column('judge_id')
    with op.batch_alter_table('reviewers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_reviewers_judge_model_id_models'), type_='foreignkey')
        batch_op.drop_constraint('ck_reviewers_kind', type_='check')
        batch_op.drop_column('judge_params')
        batch_op.drop_column('judge_model_id')
        batch_op.drop_column('kind')
