"""Start-up with PostgreSQL unreachable: wait and answer 503, never exit in a loop (issue 17)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field

import pytest
from sqlalchemy.exc import OperationalError

from services.database_wait import open_when_reachable
from services.db import DatabaseError
from tests.support.live import free_port


@dataclass
class FakeDatabase:
    is_postgres: bool = True
    disposed: int = 0

    def describe(self) -> str:
        return "postgresql://mcsim@db/mcsim"

    def dispose(self) -> None:
        self.disposed += 1


def unreachable() -> DatabaseError:
    cause = OperationalError("connect", {}, Exception("connection refused"))
    try:
        raise DatabaseError("cannot open the database") from cause
    except DatabaseError as exc:
        return exc


@dataclass
class Prepare:
    failures: int
    port: int
    seen: list[tuple[int, dict[str, object]]] = field(default_factory=list)

    def __call__(self) -> str:
        if self.failures == 0:
            return "head"
        self.failures -= 1
        if self.failures == 0:  # the second try: the waiting server answers meanwhile
            self.seen.append(_get(self.port, "/health"))
            self.seen.append(_get(self.port, "/nl/jsp/soaprouter.jsp"))
        raise unreachable()


def _get(port: int, path: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_an_unreachable_postgres_is_waited_for_with_a_503_health() -> None:
    port = free_port()
    prepare = Prepare(failures=2, port=port)
    db = FakeDatabase()
    revision = open_when_reachable(
        db,  # type: ignore[arg-type]
        prepare,
        host="127.0.0.1",
        port=port,
        service="midsourcing",
    )
    assert revision == "head"
    (status, health), (other, error) = prepare.seen
    assert status == 503
    assert health["status"] == "starting"
    assert health["database"] == "unreachable"
    assert health["service"] == "midsourcing"
    assert "connection refused" in str(health["detail"])
    assert other == 503 and error["error"] == "database_unavailable"
    assert db.disposed == 2
    # The port is free again for the service itself.
    with pytest.raises(urllib.error.URLError):
        _get(port, "/health")


def test_sqlite_and_other_refusals_are_not_waited_for() -> None:
    def refuse() -> str:
        raise unreachable()

    with pytest.raises(DatabaseError):
        open_when_reachable(
            FakeDatabase(is_postgres=False),  # type: ignore[arg-type]
            refuse,
            host="127.0.0.1",
            port=free_port(),
            service="control",
        )

    def newer() -> str:
        raise DatabaseError("written by a newer mcsim")

    with pytest.raises(DatabaseError, match="newer"):
        open_when_reachable(
            FakeDatabase(),  # type: ignore[arg-type]
            newer,
            host="127.0.0.1",
            port=free_port(),
            service="control",
        )


def test_a_stop_ends_the_wait() -> None:
    stop = threading.Event()

    def refuse() -> str:
        stop.set()
        raise unreachable()

    with pytest.raises(DatabaseError, match="stopped while waiting"):
        open_when_reachable(
            FakeDatabase(),  # type: ignore[arg-type]
            refuse,
            host="127.0.0.1",
            port=free_port(),
            service="control",
            stop=stop,
        )
