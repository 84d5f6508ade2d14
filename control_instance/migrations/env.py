"""Alembic environment of the control service (run by services.db.Database.upgrade)."""

from control_instance.tables import Base
from services.migrations_env import run_migrations

run_migrations(Base.metadata)
