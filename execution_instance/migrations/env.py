"""Alembic environment of the execution instance (run by services.db.Database.upgrade)."""

from execution_instance.tables import Base
from services.migrations_env import run_migrations

run_migrations(Base.metadata)
