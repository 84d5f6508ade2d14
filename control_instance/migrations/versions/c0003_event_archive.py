"""Archived events (the central event history) and the archiving cursor of each account.

Revision ID: c0003
Revises: c0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "c0003"
down_revision = "c0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "archived_events",
        sa.Column("pl_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("instance_id", sa.SmallInteger(), nullable=False),
        sa.Column("queue", sa.String(length=8), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("mobile_phone", sa.String(length=32), nullable=True),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processing_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("failure_reason", sa.SmallInteger(), nullable=True),
        sa.Column("error_text", sa.Text(), nullable=True),
        sa.Column("template_name", sa.String(length=128), nullable=True),
        sa.Column("template_version", sa.Integer(), nullable=True),
        sa.Column("delivery_part", sa.String(length=64), nullable=True),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pl_id", name=op.f("pk_archived_events")),
    )
    op.create_index("ix_archived_events_created_at", "archived_events", ["created_at"])
    op.create_index("ix_archived_events_email", "archived_events", ["email"])
    op.create_index("ix_archived_events_external_id", "archived_events", ["external_id"])
    op.create_index(
        "ix_archived_events_type_created", "archived_events", ["event_type", "created_at"]
    )
    op.create_table(
        "archive_cursors",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.String(length=80), nullable=False),
        sa.Column("archived", sa.Integer(), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_ok_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_archive_cursors_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_archive_cursors")),
    )


def downgrade() -> None:
    op.drop_table("archive_cursors")
    op.drop_table("archived_events")
