"""Add ``config_version``: a number the database moves on every change of the configuration.

Every process of an instance (and every replica sharing its PostgreSQL schema) keeps the
configuration in memory — event types, published templates, operators, technical tokens, the
instance id, the clock's offset, the message epoch — and looks every second for changes made
elsewhere. Reading all of it each second cost ~25 ms of CPU a second per process (issue 15);
reading this one number costs a query. Triggers move it, so that no writer (another replica, an
older mcsim, a hand-made SQL change) can forget to. ``service_meta`` only counts for the keys of
the configuration: the status sync writes its cursor there several times a second.

A later migration that rebuilds one of these tables on SQLite (``batch_alter_table``) drops its
triggers and must create them again (:func:`create_triggers`).

Revision ID: e0006
Revises: e0005
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "e0006"
down_revision = "e0005"
branch_labels = None
depends_on = None

#: The tables whose every change is a change of the configuration.
TABLES = ("event_types", "templates", "operators", "technical_tokens")
#: The ``service_meta`` keys that are not configuration (written on the hot path).
NOT_CONFIGURATION = ("delivery_log_cursor",)

_BUMP = "UPDATE config_version SET version = version + 1"


def upgrade() -> None:
    op.create_table(
        "config_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_version")),
    )
    op.execute("INSERT INTO config_version (id, version) VALUES (1, 1)")
    create_triggers()


def create_triggers() -> None:
    """Create the triggers that move ``config_version`` (SQLite or PostgreSQL)."""
    excluded = ", ".join(f"'{key}'" for key in NOT_CONFIGURATION)
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            for change in ("INSERT", "UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER config_version_{table}_{change.lower()} AFTER {change} "
                    f"ON {table} BEGIN {_BUMP}; END"
                )
        for change, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
            op.execute(
                f"CREATE TRIGGER config_version_service_meta_{change.lower()} AFTER {change} "
                f"ON service_meta WHEN {row}.key NOT IN ({excluded}) BEGIN {_BUMP}; END"
            )
        return
    op.execute(
        "CREATE FUNCTION mcsim_bump_config_version() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN {_BUMP}; RETURN NULL; END $$"
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER config_version_{table} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION mcsim_bump_config_version()"
        )
    for change, row in (("INSERT OR UPDATE", "NEW"), ("DELETE", "OLD")):
        name = "config_version_service_meta_" + change.split()[0].lower()
        op.execute(
            f"CREATE TRIGGER {name} AFTER {change} ON service_meta FOR EACH ROW "
            f"WHEN ({row}.key NOT IN ({excluded})) EXECUTE FUNCTION mcsim_bump_config_version()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in (*TABLES, "service_meta"):
            for change in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS config_version_{table}_{change}")
    else:
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS config_version_{table} ON {table}")
        for change in ("insert", "delete"):
            op.execute(
                f"DROP TRIGGER IF EXISTS config_version_service_meta_{change} ON service_meta"
            )
        op.execute("DROP FUNCTION IF EXISTS mcsim_bump_config_version()")
    op.drop_table("config_version")
