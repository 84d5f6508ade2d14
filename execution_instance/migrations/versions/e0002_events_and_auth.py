"""Create events, event types, operators and tokens.

Revision ID: e0002
Revises: e0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "e0002"
down_revision = "e0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('event_types',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_event_types'))
    )
    op.create_table('events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('queue', sa.SmallInteger(), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('status', sa.SmallInteger(), nullable=False),
    sa.Column('wished_channel', sa.SmallInteger(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('mobile_phone', sa.String(length=32), nullable=True),
    sa.Column('push_token', sa.String(length=4096), nullable=True),
    sa.Column('mobile_app', sa.String(length=255), nullable=True),
    sa.Column('external_id', sa.String(length=255), nullable=True),
    sa.Column('origin', sa.String(length=255), nullable=True),
    sa.Column('language', sa.String(length=64), nullable=True),
    sa.Column('country', sa.String(length=64), nullable=True),
    sa.Column('email_format', sa.SmallInteger(), nullable=False),
    sa.Column('scheduled', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expiration', sa.DateTime(timezone=True), nullable=True),
    sa.Column('document', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('processing_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error_count', sa.Integer(), nullable=False),
    sa.Column('failure_reason', sa.SmallInteger(), nullable=True),
    sa.Column('error_text', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events'))
    )
    op.create_index('ix_events_claim', 'events', ['status', 'queue', 'next_attempt_at'], unique=False)
    op.create_index('ix_events_created_at', 'events', ['created_at'], unique=False)
    op.create_index('ix_events_idempotency_key', 'events', ['idempotency_key'], unique=True)
    op.create_table('operators',
    sa.Column('login', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('login', name=op.f('pk_operators'))
    )
    op.create_table('session_tokens',
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('security_digest', sa.String(length=64), nullable=False),
    sa.Column('login', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('digest', name=op.f('pk_session_tokens'))
    )
    op.create_index(op.f('ix_session_tokens_expires_at'), 'session_tokens', ['expires_at'], unique=False)
    op.create_table('technical_tokens',
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=255), nullable=False),
    sa.Column('login', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('digest', name=op.f('pk_technical_tokens'))
    )


def downgrade() -> None:
    for table in ("technical_tokens", "session_tokens", "operators", "events", "event_types"):
        op.drop_table(table)
