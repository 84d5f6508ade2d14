"""Add ``events.updated_at`` (set on every change) and its index, the archiving cursor.

Revision ID: e0005
Revises: e0004
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "e0005"
down_revision = "e0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE events SET updated_at = COALESCE(processed_at, processing_at, created_at)"
    )
    op.create_index("ix_events_updated_at", "events", ["updated_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_events_updated_at", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("updated_at")
