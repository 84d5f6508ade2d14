"""Indexes of the event-history search that hold its order (created_at, pl_id) for each filter.

With a million archived events, a search by status, channel or instance read every row to
count and order them (issue 15 item 4); these indexes count, order and page on their own.

Revision ID: c0004
Revises: c0003
Create Date: 2026-12-07
"""

from alembic import op

revision = "c0004"
down_revision = "c0003"
branch_labels = None
depends_on = None

_ORDER = ["created_at", "pl_id"]


def upgrade() -> None:
    op.drop_index("ix_archived_events_created_at", table_name="archived_events")
    op.drop_index("ix_archived_events_type_created", table_name="archived_events")
    op.create_index("ix_archived_events_created", "archived_events", _ORDER)
    op.create_index("ix_archived_events_type_created", "archived_events", ["event_type", *_ORDER])
    for column in ("status", "channel", "instance_id"):
        name = "instance" if column == "instance_id" else column
        op.create_index(f"ix_archived_events_{name}_created", "archived_events", [column, *_ORDER])


def downgrade() -> None:
    for name in ("status", "channel", "instance"):
        op.drop_index(f"ix_archived_events_{name}_created", table_name="archived_events")
    op.drop_index("ix_archived_events_type_created", table_name="archived_events")
    op.drop_index("ix_archived_events_created", table_name="archived_events")
    op.create_index("ix_archived_events_type_created", "archived_events", ["event_type", "created_at"])
    op.create_index("ix_archived_events_created_at", "archived_events", ["created_at"])
