"""known devices (device cookies) and login attempts in flight kept apart from failures

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 10:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('known_devices',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['reviewer_id'], ['reviewers.id'], name=op.f('fk_known_devices_reviewer_id_reviewers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_known_devices'))
    )
    with op.batch_alter_table('known_devices', schema=None) as batch_op:
        batch_op.create_index('ix_known_devices_reviewer_id', ['reviewer_id'], unique=False)

    with op.batch_alter_table('login_throttle', schema=None) as batch_op:
        batch_op.add_column(sa.Column('in_flight', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('in_flight_since', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('queued_since', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('queued_until', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('login_throttle', schema=None) as batch_op:
        batch_op.drop_column('queued_until')
        batch_op.drop_column('queued_since')
        batch_op.drop_column('in_flight_since')
        batch_op.drop_column('in_flight')
    with op.batch_alter_table('known_devices', schema=None) as batch_op:
        batch_op.drop_index('ix_known_devices_reviewer_id')
    op.drop_table('known_devices')
