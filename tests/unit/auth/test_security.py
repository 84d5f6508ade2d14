"""The authentication chain both SOAP services share (services.auth.security, session_rows).

A small service made of the shared class over a ``session_tokens`` table, on SQLite and (when
MCSIM_TEST_POSTGRES_URL is set) PostgreSQL; then the wording each real service keeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import event, func, select

from execution_instance.identity import Identity
from execution_instance.security.service import Credentials as ExecCredentials
from execution_instance.security.service import SecurityService
from execution_instance.tables import Base as ExecBase
from midsourcing.security.service import MidSecurity
from midsourcing.tables import Base as MidBase
from midsourcing.tables import SessionToken
from services.auth import session_rows
from services.auth.passwords import VerificationCache, hash_password, verify_password
from services.auth.security import (
    DENIED,
    EXPIRED,
    Credentials,
    NeedsIO,
    OperatorSecurity,
)
from services.auth.session_rows import SessionTokenRow
from services.auth.tokens import token_digest
from services.auth.zones import SecurityZone, default_zones
from services.db import Database
from services.errors import AuthenticationFailed, Forbidden, RateLimited, SessionExpired
from tests.conftest import DatabaseTarget

pytestmark = pytest.mark.postgres

ZONES = [
    SecurityZone(
        name="lan",
        networks=["10.0.0.0/8"],
        allow_user_password=True,
        allow_empty_password=True,
        session_token_only=True,
    ),
    SecurityZone(name="wan", networks=["172.16.0.0/12"], allow_user_password=True),
    SecurityZone(name="dmz", networks=["192.168.0.0/16"]),
]
LAN, WAN, DMZ, OUTSIDE = "10.0.0.7", "172.16.0.7", "192.168.0.7", "203.0.113.9"
OP_HASH = hash_password("pw")


class _Server(OperatorSecurity[Credentials, tuple[str, str]]):
    session_model: ClassVar[type[SessionTokenRow]] = SessionToken
    server_name: ClassVar[str] = "test server"
    zones_setting: ClassVar[str] = "MCSIM_TEST_ZONES"
    no_credentials_detail: ClassVar[str] = "no credentials: log on first"

    def authenticate(self, credentials: Credentials, *, io: bool = True) -> tuple[str, str]:
        zone = self.zone_of(credentials.address)
        return self._login_of(credentials, zone, io=io)


class _LenientServer(_Server):
    empty_password_logs_on: ClassVar[bool] = True


class _Statements:
    """Count the SQL statements a database runs."""

    def __init__(self, db: Database) -> None:
        self.count = 0
        event.listen(db.engine, "before_cursor_execute", self._seen)

    def _seen(self, *_: Any) -> None:
        self.count += 1


@pytest.fixture
def db(database_target: DatabaseTarget) -> Iterator[Database]:
    database = Database(database_target.url, schema=database_target.schema)
    database.ensure_schema()
    MidBase.metadata.create_all(database.engine, tables=[SessionToken.__table__])
    yield database
    database.dispose()


def _server(db: Database, cls: type[_Server] = _Server, *, session_ttl: float = 3600) -> _Server:
    server = cls(db, zones=ZONES, session_ttl=session_ttl, password_cache=600)
    server._operators = {"op": OP_HASH}
    return server


def _stored_sessions(db: Database) -> list[SessionToken]:
    with db.transaction() as session:
        return list(session.scalars(select(SessionToken)))


def test_a_caller_outside_every_zone_is_refused_with_campaigns_code(db: Database) -> None:
    server = _server(db)
    for address in (OUTSIDE, None, "not-an-ip"):
        with pytest.raises(Forbidden) as refused:
            server.authenticate(Credentials(address=address, body_token="op/pw"))
        assert refused.value.message == (
            f"XSV-350013 The '{address}' IP address is not authorized to connect "
            "to this test server."
        )
        assert refused.value.detail == "add the address to a security zone (MCSIM_TEST_ZONES)"
    assert server.zone_of(DMZ).name == "dmz"


def test_login_password_is_verified_once_then_answered_from_memory(db: Database) -> None:
    server = _server(db)
    verified: list[str] = []

    def counting(stored_hash: str, password: str) -> bool:
        verified.append(password)
        return verify_password(stored_hash, password)

    server.passwords = VerificationCache(ttl=600, verifier=counting)
    call = Credentials(address=LAN, body_token=" op/pw ")
    with pytest.raises(NeedsIO):  # argon2 never runs on the event loop
        server.authenticate(call, io=False)
    assert server.authenticate(call) == ("op", "password")
    statements = _Statements(db)
    for _ in range(20):
        assert server.authenticate(call, io=False) == ("op", "password")
    assert verified == ["pw"]
    assert statements.count == 0
    wrong = Credentials(address=LAN, body_token="op/nope")
    with pytest.raises(NeedsIO):
        server.authenticate(wrong, io=False)
    with pytest.raises(AuthenticationFailed) as denied:
        server.authenticate(wrong)
    assert (denied.value.message, denied.value.detail) == (DENIED, None)
    with pytest.raises(AuthenticationFailed):
        server.authenticate(Credentials(address=LAN, body_token="nobody/pw"), io=False)


def test_zone_rules_for_login_password_and_empty_passwords(db: Database) -> None:
    server = _server(db)
    with pytest.raises(AuthenticationFailed) as refused:
        server.authenticate(Credentials(address=DMZ, body_token="op/pw"))
    assert refused.value.detail == (
        "the security zone 'dmz' does not allow login/password in <sessiontoken> "
        "(allowUserPassword is off)"
    )
    with pytest.raises(AuthenticationFailed) as empty:
        server.authenticate(Credentials(address=WAN, body_token="op/"))
    assert empty.value.detail == "the security zone 'wan' does not allow empty passwords"
    assert server.authenticate(Credentials(address=WAN, body_token="op/pw"))[0] == "op"
    with pytest.raises(SessionExpired) as nothing:
        server.authenticate(Credentials(address=LAN, body_token="  "))
    assert (nothing.value.message, nothing.value.detail) == (
        EXPIRED,
        "no credentials: log on first",
    )
    assert nothing.value.campaign_code == "XSV-350008"


def test_an_empty_password_is_enough_only_where_the_service_says_so(db: Database) -> None:
    strict, lenient = _server(db), _server(db, _LenientServer)
    with pytest.raises(AuthenticationFailed):
        strict.authenticate(Credentials(address=LAN, body_token="op/"))
    assert lenient.authenticate(Credentials(address=LAN, body_token="op/"), io=False) == (
        "op",
        "password",
    )
    with pytest.raises(AuthenticationFailed):  # only an existing operator
        lenient.authenticate(Credentials(address=LAN, body_token="nobody/"))
    with pytest.raises(AuthenticationFailed):  # and only where the zone allows empty passwords
        lenient.authenticate(Credentials(address=WAN, body_token="op/"))
    assert lenient.logon(address=LAN, login="op", password="").login == "op"


def test_repeated_failures_are_throttled_per_login_and_address(db: Database) -> None:
    server = _server(db)
    for _ in range(4):
        with pytest.raises(AuthenticationFailed):
            server.authenticate(Credentials(address=LAN, body_token="op/bad"))
    assert server.authenticate(Credentials(address=LAN, body_token="op/pw"))[0] == "op"
    # A success does not forget the earlier failures (review F2b): the fifth locks the pair.
    with pytest.raises(AuthenticationFailed):
        server.authenticate(Credentials(address=LAN, body_token="op/bad"))
    with pytest.raises(RateLimited) as limited:
        server.authenticate(Credentials(address=LAN, body_token="op/pw"))
    assert limited.value.message == "Too many failed logons. Connection denied."
    assert limited.value.detail is not None and limited.value.detail.startswith("retry in ")
    with pytest.raises(RateLimited):
        server.logon(address=LAN, login="op", password="pw")
    assert server.authenticate(Credentials(address="10.0.0.8", body_token="op/pw"))[0] == "op"


def test_logon_opens_a_session_stored_by_digest(db: Database) -> None:
    server = _server(db)
    opened = server.logon(address=WAN, login="op", password="pw")
    assert opened.session_token.startswith("___") and opened.security_token.startswith("@")
    assert opened.login == "op"
    (row,) = _stored_sessions(db)
    assert row.digest == token_digest(opened.session_token)
    assert row.security_digest == token_digest(opened.security_token)
    assert row.expires_at == opened.expires_at
    assert opened.expires_at - row.created_at == timedelta(seconds=3600)
    cookie = Credentials(
        address=WAN, cookie_token=opened.session_token, security_token=opened.security_token
    )
    assert server.authenticate(cookie) == ("op", "session")
    statements = _Statements(db)
    assert server.authenticate(cookie, io=False) == ("op", "session")
    assert statements.count == 0
    forged = Credentials(address=WAN, cookie_token=opened.session_token, security_token="@x")
    with pytest.raises(SessionExpired) as mismatch:
        server.authenticate(forged)
    assert mismatch.value.detail == "the X-Security-Token does not match the session"
    with pytest.raises(SessionExpired) as alone:
        server.authenticate(Credentials(address=WAN, body_token=opened.session_token))
    assert alone.value.detail == (
        "the security zone 'wan' requires the X-Security-Token header with the session token "
        "(sessionTokenOnly is off)"
    )
    assert server.authenticate(Credentials(address=LAN, body_token=opened.session_token)) == (
        "op",
        "session",
    )


def test_logon_refuses_what_authenticate_refuses(db: Database) -> None:
    server = _server(db)
    with pytest.raises(Forbidden):
        server.logon(address=OUTSIDE, login="op", password="pw")
    with pytest.raises(AuthenticationFailed) as empty:
        server.logon(address=WAN, login="op", password="")
    assert empty.value.detail == "the security zone 'wan' does not allow empty passwords"
    with pytest.raises(AuthenticationFailed):
        server.logon(address=WAN, login="op", password="bad")
    with pytest.raises(AuthenticationFailed):
        server.logon(address=WAN, login="nobody", password="pw")
    assert _stored_sessions(db) == []


def test_unknown_expired_and_closed_sessions_are_refused(db: Database) -> None:
    server = _server(db)
    unknown = Credentials(address=LAN, body_token="___NOT-A-SESSION")
    with pytest.raises(NeedsIO):  # not in memory: the database must tell
        server.authenticate(unknown, io=False)
    with pytest.raises(SessionExpired) as refused:
        server.authenticate(unknown)
    assert refused.value.detail == (
        "this session token is unknown to the test server or has expired: "
        "call xtk:session#Logon again"
    )
    opened = server.logon(address=LAN, login="op", password="pw")
    call = Credentials(address=LAN, body_token=opened.session_token)
    assert server.authenticate(call) == ("op", "session")
    server.logoff(token=opened.session_token)
    assert _stored_sessions(db) == []
    with pytest.raises(SessionExpired):  # the cache forgot it too
        server.authenticate(call)
    brief = _server(db, session_ttl=0.0)
    gone = brief.logon(address=LAN, login="op", password="pw")
    with pytest.raises(SessionExpired):
        brief.authenticate(Credentials(address=LAN, body_token=gone.session_token))
    brief.logon(address=LAN, login="op", password="pw")  # a Logon sweeps expired sessions
    assert len(_stored_sessions(db)) == 1


def test_session_rows_queries(db: Database) -> None:
    now = datetime.now(UTC)
    with db.transaction(write=True) as session:
        for n, minutes in enumerate((-2, -1, 5)):
            session_rows.add_session(
                session,
                SessionToken(
                    digest=f"d{n}",
                    security_digest=f"s{n}",
                    login="op",
                    created_at=now,
                    expires_at=now + timedelta(minutes=minutes),
                ),
            )
    with db.transaction(write=True) as session:
        assert session_rows.delete_expired_sessions(session, SessionToken, now=now) == 2
        found = session_rows.get_session(session, SessionToken, digest="d2")
        assert found is not None and found.security_digest == "s2"
        assert session_rows.get_session(session, SessionToken, digest="d0") is None
        session_rows.delete_session(session, SessionToken, digest="d2")
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(SessionToken)) == 0


async def test_authenticate_async_answers_from_memory_or_in_a_thread(db: Database) -> None:
    server = _server(db)
    call = Credentials(address=LAN, body_token="op/pw")
    assert await server.authenticate_async(call) == ("op", "password")  # argon2, in a thread
    statements = _Statements(db)
    assert await server.authenticate_async(call) == ("op", "password")
    assert statements.count == 0
    with pytest.raises(AuthenticationFailed):
        await server.authenticate_async(Credentials(address=LAN, body_token="op/bad"))


# -- what each real service keeps its own ---------------------------------------------------
@pytest.fixture
def exec_security(tmp_path: Path) -> Iterator[SecurityService]:
    database = Database(f"sqlite:///{tmp_path / 'exec.sqlite3'}")
    ExecBase.metadata.create_all(database.engine)
    service = SecurityService(
        database,
        zones=[*default_zones(), ZONES[1]],
        identity=Identity(database, 3),
        session_ttl=3600,
        password_cache=600,
    )
    service.seed(operators={"mc": "mc"}, technical_tokens=["tok"])
    yield service
    database.dispose()


def test_the_execution_instance_keeps_its_wording_and_its_ways_in(
    exec_security: SecurityService,
) -> None:
    service = exec_security
    with pytest.raises(Forbidden) as refused:
        service.zone_of(OUTSIDE)
    assert refused.value.message.endswith("to connect to this execution instance.")
    assert refused.value.detail == (
        "add the address to a security zone (MCSIM_EXEC_SECURITY_ZONES)"
    )
    unknown = ExecCredentials(address="127.0.0.1", body_token="___NOT-A-SESSION")
    service.identity.value = 7  # the id is read when the fault is raised
    with pytest.raises(SessionExpired) as expired:
        service.authenticate(unknown)
    assert expired.value.detail is not None
    assert expired.value.detail.startswith(
        "this session token is unknown to execution instance 7 or has expired."
    )
    with pytest.raises(AuthenticationFailed) as empty:
        service.logon(address=WAN, login="mc", password="")
    assert empty.value.detail == "empty passwords are not allowed here"
    assert service.logon(address="127.0.0.1", login="mc", password="").login == "mc"
    bearer = service.authenticate(ExecCredentials(address="127.0.0.1", bearer="tok"))
    assert (bearer.login, bearer.zone, bearer.method) == ("mc", "loopback", "bearer")
    with pytest.raises(AuthenticationFailed) as bad:
        service.authenticate(ExecCredentials(address="127.0.0.1", bearer="nope"))
    assert bad.value.detail == "the bearer technical token is not valid"
    with pytest.raises(SessionExpired) as nothing:
        service.authenticate(ExecCredentials(address="127.0.0.1"))
    assert nothing.value.detail is not None and "bearer technical token" in nothing.value.detail


def test_the_execution_instance_hot_path_needs_no_query(exec_security: SecurityService) -> None:
    service = exec_security
    opened = service.logon(address="127.0.0.1", login="mc", password="mc")
    calls = [
        ExecCredentials(address="127.0.0.1", body_token="mc/mc"),
        ExecCredentials(address="127.0.0.1", body_token=opened.session_token),
        ExecCredentials(
            address="127.0.0.1",
            cookie_token=opened.session_token,
            security_token=opened.security_token,
        ),
        ExecCredentials(address="127.0.0.1", bearer="tok"),
    ]
    for call in calls:
        service.authenticate(call)
    statements = _Statements(service.db)
    methods = [service.authenticate(call, io=False).method for call in calls]
    assert methods == ["password", "session", "session", "bearer"]
    assert statements.count == 0


def test_the_mid_sourcing_server_keeps_its_wording(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'mid.sqlite3'}")
    MidBase.metadata.create_all(database.engine)
    service = MidSecurity(database, zones=ZONES, session_ttl=3600, password_cache=600)
    service._operators = {"mid": OP_HASH}
    with pytest.raises(Forbidden) as refused:
        service.zone_of(OUTSIDE)
    assert refused.value.message.endswith("to connect to this mid-sourcing server.")
    assert refused.value.detail == "add the address to a security zone (MCSIM_MID_SECURITY_ZONES)"
    with pytest.raises(AuthenticationFailed) as empty:
        service.logon(address=WAN, login="mid", password="")
    assert empty.value.detail == "the security zone 'wan' does not allow empty passwords"
    with pytest.raises(AuthenticationFailed):  # an empty password is checked like any other
        service.authenticate(Credentials(address=LAN, body_token="mid/"))
    with pytest.raises(SessionExpired) as nothing:
        service.authenticate(Credentials(address=LAN))
    assert nothing.value.detail == (
        "no credentials: send a Logon session token, or login/password in "
        "<sessiontoken> (for example mid/mid)"
    )
    opened = service.logon(address=LAN, login="mid", password="pw")
    assert service.authenticate(Credentials(address=LAN, body_token=opened.session_token)) == "mid"
    database.dispose()
