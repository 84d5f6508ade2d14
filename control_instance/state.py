"""What the running control instance holds: settings, database, HTTP client, keys, engine."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from control_instance.ims.keys import SigningKeys
from control_instance.secrets import SecretBox, load_key
from control_instance.settings import ControlSettings
from services.auth.throttle import LogonThrottle
from services.db import Database
from services.personalization import TemplateEngine

__all__ = ["ControlState"]


@dataclass
class ControlState:
    """The control instance's collaborators, built once by the app's lifespan."""

    settings: ControlSettings
    db: Database
    http: httpx.AsyncClient
    box: SecretBox
    engine: TemplateEngine
    throttle: LogonThrottle
    #: The keys that sign IMS access tokens (loaded, or made, at the first use).
    ims_keys: SigningKeys
    #: When the last successful archiving pass of each account began reading (in memory: after
    #: a restart the first pass rewinds from its cursor instead).
    archive_reads: dict[int, datetime] = field(default_factory=dict)
    #: Held by an archiving pass and by a reset of the cell: a pass that read events before a
    #: reset must not write them back into the history the reset cleared.
    archiving: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    def build(
        cls, settings: ControlSettings, db: Database, http: httpx.AsyncClient
    ) -> ControlState:
        """Assemble the state from the settings and the lifespan's database and client."""
        key = load_key(secret_key=settings.secret_key, data_dir=settings.data_dir)
        box = SecretBox(key)
        return cls(
            settings=settings,
            db=db,
            http=http,
            box=box,
            engine=TemplateEngine(),
            throttle=LogonThrottle(
                max_failures=settings.login_max_failures,
                window=max(settings.login_lockout_seconds, 60.0),
                lockout=settings.login_lockout_seconds,
            ),
            ims_keys=SigningKeys(db, box),
        )
