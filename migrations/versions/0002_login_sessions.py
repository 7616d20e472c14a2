"""login sessions and the failed-login throttle in the database

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 15:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_sessions',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['reviewer_id'], ['reviewers.id'], name=op.f('fk_login_sessions_reviewer_id_reviewers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_login_sessions'))
    )
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_login_sessions_reviewer_id', ['reviewer_id'], unique=False)

    op.create_table('login_throttle',
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('blocked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttle'))
    )


def downgrade() -> None:
    op.drop_table('login_throttle')
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_login_sessions_reviewer_id')
    op.drop_table('login_sessions')
