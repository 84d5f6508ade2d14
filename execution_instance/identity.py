"""The instance id (1 to 255) an execution instance stamps on plIds, message ids and sessions.

It starts as ``MCSIM_EXEC_INSTANCE_ID``; the control instance's "initialize connection" may assign
another one through ``PUT /_mc/instance-id`` (DESIGN §6), which is kept in ``service_meta`` and
wins over the setting from then on, also after a restart and on every replica sharing the
database (each re-reads it with its caches). An instance that already holds events keeps its id:
their plIds carry it in their top byte, and changing it would orphan them.
"""

from __future__ import annotations

import logging

from sqlalchemy import exists, select

from execution_instance.tables import Event, service_meta
from services.db import Database
from services.errors import Conflict, InvalidRequest

__all__ = ["MAX_INSTANCE_ID", "Identity"]

log = logging.getLogger("mcsim.identity")

_KEY = "instance_id"
MAX_INSTANCE_ID = 255


class Identity:
    """The running instance's id, read by every component at the moment it needs it."""

    def __init__(self, db: Database, configured: int) -> None:
        self._db = db
        self.configured = configured
        self.value = configured

    def load(self) -> int:
        """Re-read the assigned id from the database (the setting when none was assigned)."""
        with self._db.transaction() as session:
            stored = session.execute(
                select(service_meta.c.value).where(service_meta.c.key == _KEY)
            ).scalar_one_or_none()
        value = int(stored) if stored is not None else self.configured
        if value != self.value:
            log.info("instance id is now %d", value, extra={"previous": self.value})
        self.value = value
        return value

    def assign(self, instance_id: int) -> bool:
        """Make ``instance_id`` this instance's id; return whether it changed.

        Refused when the instance already holds events under another id.
        """
        if not 1 <= instance_id <= MAX_INSTANCE_ID:
            raise InvalidRequest(
                f"an instance id is between 1 and {MAX_INSTANCE_ID}, not {instance_id}",
                field="instance_id",
            )
        with self._db.transaction(write=True) as session:
            stored = session.execute(
                select(service_meta.c.value).where(service_meta.c.key == _KEY)
            ).scalar_one_or_none()
            current = int(stored) if stored is not None else self.configured
            if current == instance_id:
                self.value = current
                return False
            if session.execute(select(exists().where(Event.id.is_not(None)))).scalar():
                raise Conflict(
                    f"execution instance {current} already holds events: its id cannot "
                    f"become {instance_id}",
                    detail="the top byte of every plId it returned carries its id; initialize "
                    "the connection before the instance takes events, or give it an empty "
                    "database",
                )
            if stored is None:
                session.execute(service_meta.insert().values(key=_KEY, value=str(instance_id)))
            else:
                session.execute(
                    service_meta.update()
                    .where(service_meta.c.key == _KEY)
                    .values(value=str(instance_id))
                )
        log.info("instance id assigned", extra={"previous": current, "instance_id": instance_id})
        self.value = instance_id
        return True
