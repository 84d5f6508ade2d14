"""Delivery parts, messages (queue and capture), message keys, delivery logs, addresses
(quarantine) and Logon sessions.

Revision ID: m0002
Revises: m0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "m0002"
down_revision = "m0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('addresses',
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('address', sa.Text(), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('failure_type', sa.String(length=8), nullable=False),
    sa.Column('failure_reason', sa.SmallInteger(), nullable=False),
    sa.Column('error_count', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('first_error_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('digest', name=op.f('pk_addresses'))
    )
    op.create_index(op.f('ix_addresses_status'), 'addresses', ['status'], unique=False)
    op.create_table('delivery_logs',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('event_id', sa.BigInteger(), nullable=False),
    sa.Column('instance', sa.SmallInteger(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('failure_type', sa.String(length=8), nullable=False),
    sa.Column('failure_reason', sa.SmallInteger(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tries', sa.SmallInteger(), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_delivery_logs')),
    sqlite_autoincrement=True
    )
    op.create_index(op.f('ix_delivery_logs_at'), 'delivery_logs', ['at'], unique=False)
    op.create_index('ix_delivery_logs_instance_seq', 'delivery_logs', ['instance', 'seq'], unique=False)
    op.create_table('delivery_parts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('part_key', sa.String(length=255), nullable=False),
    sa.Column('instance', sa.SmallInteger(), nullable=False),
    sa.Column('queue', sa.String(length=16), nullable=False),
    sa.Column('message_count', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_parts')),
    sa.UniqueConstraint('part_key', name=op.f('uq_delivery_parts_part_key')),
    sqlite_autoincrement=True
    )
    op.create_index(op.f('ix_delivery_parts_received_at'), 'delivery_parts', ['received_at'], unique=False)
    op.create_table('message_keys',
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('part_id', sa.BigInteger(), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('message_id', name=op.f('pk_message_keys'))
    )
    op.create_index(op.f('ix_message_keys_accepted_at'), 'message_keys', ['accepted_at'], unique=False)
    op.create_table('messages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('part_id', sa.BigInteger(), nullable=False),
    sa.Column('instance', sa.SmallInteger(), nullable=False),
    sa.Column('event_id', sa.BigInteger(), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('recipient', sa.Text(), nullable=False),
    sa.Column('proof', sa.Boolean(), nullable=False),
    sa.Column('template_version', sa.Integer(), nullable=False),
    sa.Column('from_name', sa.Text(), nullable=False),
    sa.Column('from_address', sa.Text(), nullable=False),
    sa.Column('reply_to', sa.Text(), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('html', sa.Text(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('app', sa.String(length=255), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('tries', sa.SmallInteger(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_by', sa.String(length=32), nullable=True),
    sa.Column('failure_type', sa.String(length=8), nullable=False),
    sa.Column('failure_reason', sa.SmallInteger(), nullable=False),
    sa.Column('result_text', sa.Text(), nullable=False),
    sa.Column('forwarded', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages')),
    sqlite_autoincrement=True
    )
    op.create_index('ix_messages_claim', 'messages', ['status', 'next_attempt_at'], unique=False)
    op.create_index(op.f('ix_messages_created_at'), 'messages', ['created_at'], unique=False)
    op.create_index(op.f('ix_messages_message_id'), 'messages', ['message_id'], unique=False)
    op.create_table('session_tokens',
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('security_digest', sa.String(length=64), nullable=False),
    sa.Column('login', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('digest', name=op.f('pk_session_tokens'))
    )
    op.create_index(op.f('ix_session_tokens_expires_at'), 'session_tokens', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_session_tokens_expires_at'), table_name='session_tokens')
    op.drop_table('session_tokens')
    op.drop_index(op.f('ix_messages_message_id'), table_name='messages')
    op.drop_index(op.f('ix_messages_created_at'), table_name='messages')
    op.drop_index('ix_messages_claim', table_name='messages')
    op.drop_table('messages')
    op.drop_index(op.f('ix_message_keys_accepted_at'), table_name='message_keys')
    op.drop_table('message_keys')
    op.drop_index(op.f('ix_delivery_parts_received_at'), table_name='delivery_parts')
    op.drop_table('delivery_parts')
    op.drop_index('ix_delivery_logs_instance_seq', table_name='delivery_logs')
    op.drop_index(op.f('ix_delivery_logs_at'), table_name='delivery_logs')
    op.drop_table('delivery_logs')
    op.drop_index(op.f('ix_addresses_status'), table_name='addresses')
    op.drop_table('addresses')
