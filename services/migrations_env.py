"""The body of every service's Alembic ``env.py``: run migrations on the given connection."""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData

__all__ = ["run_migrations"]


def run_migrations(target_metadata: MetaData) -> None:
    """Run the pending migrations on the connection that :meth:`Database.upgrade` passed in."""
    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("mcsim migrations run only through services.db.Database.upgrade")
    schema = config.attributes.get("schema")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table_schema=schema,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()
