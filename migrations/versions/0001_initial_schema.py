"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 23:56:45.708318
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('models',
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
    sa.CheckConstraint("kind IN ('base', 'finetune', 'adapter', 'endpoint')", name=op.f('ck_models_kind')),
    sa.ForeignKeyConstraint(['base_model_id'], ['models.id'], name=op.f('fk_models_base_model_id_models'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_models')),
    sa.UniqueConstraint('name', name=op.f('uq_models_name'))
    )
    with op.batch_alter_table('models', schema=None) as batch_op:
        batch_op.create_index('ix_models_content_hash', ['content_hash'], unique=False)

    op.create_table('prompt_sets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prompt_sets')),
    sa.UniqueConstraint('name', name=op.f('uq_prompt_sets_name'))
    )
    op.create_table('reviewers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('password_hash', sa.String(length=300), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('reviewer', 'analyst', 'admin')", name=op.f('ck_reviewers_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reviewers')),
    sa.UniqueConstraint('name', name=op.f('uq_reviewers_name'))
    )
    op.create_table('prompts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prompt_set_id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=False),
    sa.Column('messages', sa.JSON(), nullable=False),
    sa.Column('category', sa.String(length=200), nullable=True),
    sa.Column('reference', sa.Text(), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['prompt_set_id'], ['prompt_sets.id'], name=op.f('fk_prompts_prompt_set_id_prompt_sets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prompts')),
    sa.UniqueConstraint('prompt_set_id', 'external_id', name=op.f('uq_prompts_prompt_set_id_external_id'))
    )
    op.create_table('studies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('candidate_model_id', sa.Integer(), nullable=True),
    sa.Column('baseline_model_id', sa.Integer(), nullable=True),
    sa.Column('prompt_set_id', sa.Integer(), nullable=True),
    sa.Column('params_hash', sa.String(length=64), nullable=True),
    sa.Column('overlap', sa.Integer(), nullable=False),
    sa.Column('gold_rate', sa.Float(), nullable=False),
    sa.Column('guidelines', sa.Text(), nullable=False),
    sa.Column('thresholds', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('active', 'paused', 'closed')", name=op.f('ck_studies_status')),
    sa.CheckConstraint('gold_rate >= 0 AND gold_rate <= 1', name=op.f('ck_studies_gold_rate_range')),
    sa.CheckConstraint('overlap >= 1', name=op.f('ck_studies_overlap_positive')),
    sa.ForeignKeyConstraint(['baseline_model_id'], ['models.id'], name=op.f('fk_studies_baseline_model_id_models'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['candidate_model_id'], ['models.id'], name=op.f('fk_studies_candidate_model_id_models'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['prompt_set_id'], ['prompt_sets.id'], name=op.f('fk_studies_prompt_set_id_prompt_sets'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_studies')),
    sa.UniqueConstraint('name', name=op.f('uq_studies_name'))
    )
    op.create_table('generations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('model_id', sa.Integer(), nullable=False),
    sa.Column('prompt_id', sa.Integer(), nullable=False),
    sa.Column('params_hash', sa.String(length=64), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('output', sa.Text(), nullable=False),
    sa.Column('token_count', sa.Integer(), nullable=True),
    sa.Column('latency_seconds', sa.Float(), nullable=True),
    sa.Column('backend', sa.String(length=50), nullable=False),
    sa.Column('chat_template', sa.Text(), nullable=True),
    sa.Column('model_hash', sa.String(length=64), nullable=True),
    sa.Column('library_versions', sa.JSON(), nullable=False),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_generations_model_id_models'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompts.id'], name=op.f('fk_generations_prompt_id_prompts'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_generations')),
    sa.UniqueConstraint('model_id', 'prompt_id', 'params_hash', name=op.f('uq_generations_model_id_prompt_id_params_hash'))
    )
    op.create_table('study_reviewers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['reviewer_id'], ['reviewers.id'], name=op.f('fk_study_reviewers_reviewer_id_reviewers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['study_id'], ['studies.id'], name=op.f('fk_study_reviewers_study_id_studies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_study_reviewers')),
    sa.UniqueConstraint('study_id', 'reviewer_id', name=op.f('uq_study_reviewers_study_id_reviewer_id'))
    )
    op.create_table('comparisons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('prompt_id', sa.Integer(), nullable=False),
    sa.Column('generation_a_id', sa.Integer(), nullable=False),
    sa.Column('generation_b_id', sa.Integer(), nullable=False),
    sa.Column('gold_label', sa.String(length=20), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("gold_label IS NULL OR gold_label IN ('a', 'b', 'tie', 'both_bad')", name=op.f('ck_comparisons_gold_label')),
    sa.CheckConstraint('generation_a_id <> generation_b_id', name=op.f('ck_comparisons_distinct_generations')),
    sa.ForeignKeyConstraint(['generation_a_id'], ['generations.id'], name=op.f('fk_comparisons_generation_a_id_generations'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['generation_b_id'], ['generations.id'], name=op.f('fk_comparisons_generation_b_id_generations'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompts.id'], name=op.f('fk_comparisons_prompt_id_prompts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['study_id'], ['studies.id'], name=op.f('fk_comparisons_study_id_studies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comparisons')),
    sa.UniqueConstraint('study_id', 'generation_a_id', 'generation_b_id', name=op.f('uq_comparisons_study_id_generation_a_id_generation_b_id'))
    )
    with op.batch_alter_table('comparisons', schema=None) as batch_op:
        batch_op.create_index('ix_comparisons_study_id', ['study_id'], unique=False)

    op.create_table('assignments',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('comparison_id', sa.Integer(), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('left_generation_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('leased_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('leased', 'done', 'skipped', 'expired')", name=op.f('ck_assignments_status')),
    sa.ForeignKeyConstraint(['comparison_id'], ['comparisons.id'], name=op.f('fk_assignments_comparison_id_comparisons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['left_generation_id'], ['generations.id'], name=op.f('fk_assignments_left_generation_id_generations'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['reviewer_id'], ['reviewers.id'], name=op.f('fk_assignments_reviewer_id_reviewers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignments')),
    sa.UniqueConstraint('comparison_id', 'reviewer_id', name=op.f('uq_assignments_comparison_id_reviewer_id'))
    )
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index('ix_assignments_reviewer_id_status', ['reviewer_id', 'status'], unique=False)

    op.create_table('judgments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('comparison_id', sa.Integer(), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.String(length=64), nullable=True),
    sa.Column('left_generation_id', sa.Integer(), nullable=False),
    sa.Column('choice', sa.String(length=20), nullable=False),
    sa.Column('strength', sa.Integer(), nullable=True),
    sa.Column('rationale', sa.Text(), nullable=True),
    sa.Column('seconds', sa.Float(), nullable=True),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("choice IN ('left', 'right', 'tie', 'both_bad')", name=op.f('ck_judgments_choice')),
    sa.CheckConstraint('strength IS NULL OR (strength >= 1 AND strength <= 3)', name=op.f('ck_judgments_strength_range')),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], name=op.f('fk_judgments_assignment_id_assignments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['comparison_id'], ['comparisons.id'], name=op.f('fk_judgments_comparison_id_comparisons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['left_generation_id'], ['generations.id'], name=op.f('fk_judgments_left_generation_id_generations'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['reviewer_id'], ['reviewers.id'], name=op.f('fk_judgments_reviewer_id_reviewers'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_judgments')),
    sa.UniqueConstraint('comparison_id', 'reviewer_id', name=op.f('uq_judgments_comparison_id_reviewer_id'))
    )
    with op.batch_alter_table('judgments', schema=None) as batch_op:
        batch_op.create_index('ix_judgments_reviewer_id', ['reviewer_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('judgments', schema=None) as batch_op:
        batch_op.drop_index('ix_judgments_reviewer_id')

    op.drop_table('judgments')
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_assignments_reviewer_id_status')

    op.drop_table('assignments')
    with op.batch_alter_table('comparisons', schema=None) as batch_op:
        batch_op.drop_index('ix_comparisons_study_id')

    op.drop_table('comparisons')
    op.drop_table('study_reviewers')
    op.drop_table('generations')
    op.drop_table('studies')
    op.drop_table('prompts')
    op.drop_table('reviewers')
    op.drop_table('prompt_sets')
    with op.batch_alter_table('models', schema=None) as batch_op:
        batch_op.drop_index('ix_models_content_hash')

    op.drop_table('models')
