"""Tables of the execution instance's database."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from services.db import make_metadata, service_meta_table

__all__ = ["Base", "service_meta"]


class Base(DeclarativeBase):
    """Declarative base of the execution instance's tables."""

    metadata = make_metadata()


service_meta = service_meta_table(Base.metadata)
