"""Alembic environment of the mid service (run by services.db.Database.upgrade)."""

from midsourcing.tables import Base
from services.migrations_env import run_migrations

run_migrations(Base.metadata)
