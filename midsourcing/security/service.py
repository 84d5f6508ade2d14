"""Authenticate the callers of the mid-sourcing server (execution and control instances).

Campaign's marketing instances log on to the mid-sourcing server as the ``mid`` operator with
``xtk:session#Logon`` (campaign-facts §5.2). mcsim accepts, in this order: a session token in the
``__sessiontoken`` cookie with its ``X-Security-Token``; a session token alone in
``<sessiontoken>`` where the caller's zone has ``sessionTokenOnly``; ``login/password`` in
``<sessiontoken>`` where the zone has ``allowUserPassword``. Operators come from settings and
are kept as argon2 hashes; sessions are stored by digest, so they survive a restart.

The chain is :class:`services.auth.security.OperatorSecurity`, shared with the execution
instance; what is the mid-sourcing server's own is here: operators from settings only, the
caller's login as the answer, and its wording.
"""

from __future__ import annotations

from typing import ClassVar

from midsourcing.tables import SessionToken
from services.auth.passwords import hash_password
from services.auth.security import DENIED, EXPIRED, Credentials, Logon, OperatorSecurity
from services.auth.session_rows import SessionTokenRow

__all__ = ["DENIED", "EXPIRED", "Credentials", "Logon", "MidSecurity"]


class MidSecurity(OperatorSecurity[Credentials, str]):
    """Operators, zones and sessions of the mid-sourcing server."""

    session_model: ClassVar[type[SessionTokenRow]] = SessionToken
    server_name: ClassVar[str] = "mid-sourcing server"
    zones_setting: ClassVar[str] = "MCSIM_MID_SECURITY_ZONES"
    no_credentials_detail: ClassVar[str] = (
        "no credentials: send a Logon session token, or login/password in "
        "<sessiontoken> (for example mid/mid)"
    )

    def set_operators(self, operators: dict[str, str]) -> None:
        """Accept these operators (hashing their passwords takes about 0.1 s each)."""
        self._operators = {login: hash_password(password) for login, password in operators.items()}

    def authenticate(self, credentials: Credentials, *, io: bool = True) -> str:
        """Return the caller's login, checking session tokens, then login/password."""
        zone = self.zone_of(credentials.address)
        return self._login_of(credentials, zone, io=io)[0]
