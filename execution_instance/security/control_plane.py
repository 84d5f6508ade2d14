"""Who may call the control-plane API (``/_mc/``): the control instance's account, and no one else.

The control plane publishes templates, creates operators and technical tokens, and reads every
event with its ctx, so it has a credential of its own (security review F1): the control-plane
account of the settings (``MCSIM_EXEC_CONTROL_LOGIN`` / ``MCSIM_EXEC_CONTROL_PASSWORD``), sent as
HTTP Basic by the control instance. No credential of the intake opens it: not an operator, not a
technical token, not a Logon session, whatever the security zone allows. The caller's own address
(never X-Forwarded-For: the load balancer does not forward ``/_mc/``) must be in a security zone.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

from services.auth.zones import ZoneTable
from services.errors import AuthenticationFailed, Forbidden

__all__ = ["ControlPlaneAuth"]

_SCHEME = "basic"


def _digest(value: str) -> bytes:
    # Comparing digests keeps the comparison's time independent of the secret's length.
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


@dataclass(frozen=True)
class ControlPlaneAuth:
    """Check the control-plane account on a ``/_mc/`` call (``password`` None: it is closed)."""

    login: str
    password: str | None
    zones: ZoneTable
    zones_setting: str = "MCSIM_EXEC_SECURITY_ZONES"

    def check(self, *, authorization: str, address: str | None) -> str:
        """Return the caller's login, or raise AuthenticationFailed / Forbidden."""
        if self.zones.match(address) is None:
            raise Forbidden(
                f"XSV-350013 The '{address}' IP address is not authorized to connect "
                "to this execution instance's control plane.",
                detail=f"add the control instance's address to a security zone "
                f"({self.zones_setting})",
            )
        if self.password is None:
            raise AuthenticationFailed(
                "the control plane is closed",
                detail="no control-plane account is configured: set MCSIM_EXEC_CONTROL_PASSWORD "
                "(and MCSIM_CONTROL_EXECUTION_PASSWORD on the control instance)",
            )
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != _SCHEME or not value.strip():
            raise AuthenticationFailed(
                "the control plane needs the control-plane account (HTTP Basic)",
                detail="intake credentials (operators, technical tokens, sessions) do not open "
                "/_mc/: send the control-plane account (MCSIM_EXEC_CONTROL_LOGIN) as HTTP Basic",
            )
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise AuthenticationFailed("the Basic credentials are not valid base64") from None
        login, colon, password = decoded.partition(":")
        login_ok = hmac.compare_digest(_digest(login), _digest(self.login))
        password_ok = hmac.compare_digest(_digest(password), _digest(self.password))
        if not (colon and login_ok and password_ok):
            raise AuthenticationFailed(
                "Invalid login or password. Connection denied.",
                detail="only the control-plane account (MCSIM_EXEC_CONTROL_LOGIN) opens /_mc/",
            )
        return login
