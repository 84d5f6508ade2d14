"""The host names a service answers to: its defence against DNS rebinding (review F9).

A web page whose own name its author re-points at 127.0.0.1 becomes same-origin with a service
on loopback: it could read the mailbox and pass its CSRF check. A browser always sends the name
it resolved in ``Host``, so a service answers only when ``Host`` names

- a loopback address (127.0.0.0/8, ``[::1]``) or ``localhost``, with any port;
- the host of its public URL, or its ``HOST`` setting unless that binds every address;
- the address the connection came in on: an IP literal under a real server, never a name a page
  can re-point (under an in-process ASGI transport, the URL's host);
- one of its ``ALLOWED_HOSTS`` (``*`` allows every host).

``X-Forwarded-Host`` (the load balancer's copy of the caller's ``Host``) must name an allowed
host or an IP literal (the balancer's own address, as the caller typed it), so a re-pointed name
is refused behind the balancer as well. It is not looked at when the request did not come over
a socket (the server address is then a name, as under httpx's ``ASGITransport``): an in-process
balancer forwards its test client's host. Any other request gets
421 Misdirected Request: a SOAP Fault on the SOAP router, the JSON error everywhere else. A
verdict is kept per distinct header value: a request costs one dict lookup.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import JSONResponse, Response
from starlette.types import Scope

from services.errors import MisdirectedRequest
from services.safe_input import ascii_digits
from services.soap.response import render_fault
from services.soap.wsdl import ROUTER_PATH

__all__ = ["HostAllowList", "MisdirectedRequest", "host_name"]

log = logging.getLogger("mcsim.http")

_MAX_VERDICTS = 1024  # distinct header values remembered; any further one is decided each time
_EVERY_ADDRESS = frozenset({"0.0.0.0", "::", ""})


def host_name(value: str) -> str:
    """Return the host of a ``Host`` value or URL authority: lower case, no port, no brackets."""
    text = value.strip().lower()
    if text.startswith("["):
        end = text.find("]")
        return text[1:end] if end > 0 else text
    name, colon, port = text.rpartition(":")
    if colon and ":" not in name and (ascii_digits(port) or not port):
        text = name
    return text[:-1] if text.endswith(".") else text


def _is_loopback(name: str) -> bool:
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostAllowList:
    """Decide, per request, whether its ``Host`` (and ``X-Forwarded-Host``) is served here."""

    def __init__(
        self, names: Iterable[str] = (), *, allow_any: bool = False, setting: str = "ALLOWED_HOSTS"
    ) -> None:
        self.names = frozenset(host_name(name) for name in names if name.strip())
        self.allow_any = allow_any
        self.setting = setting
        self._verdicts: dict[bytes, bool] = {}
        self._forwarded: dict[bytes, bool] = {}
        self._sockets: dict[str, bool] = {}  # server address -> an IP literal (a real socket)

    @classmethod
    def for_settings(cls, settings: Any) -> HostAllowList:
        """Return the allow-list of a service's settings (every host when it has none)."""
        if settings is None or not hasattr(settings, "allowed_hosts"):
            return cls(allow_any=True)
        extra: list[str] = list(settings.allowed_hosts)
        names = [*extra, urlsplit(settings.resolved_public_url).netloc]
        if settings.host not in _EVERY_ADDRESS:
            names.append(settings.host)
        prefix = settings.model_config.get("env_prefix", "")
        return cls(
            [name for name in names if name != "*"],
            allow_any="*" in extra,
            setting=f"{prefix}ALLOWED_HOSTS",
        )

    def allows(self, value: bytes, server: str | None = None) -> bool:
        """Return whether a ``Host`` value is served here; ``server`` is the local address."""
        verdict = self._verdicts.get(value)
        if verdict is None:
            name = host_name(value.decode("latin-1"))
            verdict = name in self.names or _is_loopback(name)
            if len(self._verdicts) < _MAX_VERDICTS:
                self._verdicts[value] = verdict
        if verdict or server is None:
            return verdict
        return host_name(value.decode("latin-1")) == host_name(server)

    def allows_forwarded(self, value: bytes) -> bool:
        """Return whether an ``X-Forwarded-Host`` value is served here (IP literals are)."""
        verdict = self._forwarded.get(value)
        if verdict is None:
            verdict = self.allows(value) or _is_address(host_name(value.decode("latin-1")))
            if len(self._forwarded) < _MAX_VERDICTS:
                self._forwarded[value] = verdict
        return verdict

    def refusal(self, scope: Scope) -> Response | None:
        """Return the 421 answer for a request whose host is not served here, else None."""
        if self.allow_any:
            return None
        host = forwarded = None
        for name, value in scope["headers"]:
            if name == b"host":
                host = value
            elif name == b"x-forwarded-host":
                forwarded = value
        server = scope.get("server")
        local = str(server[0]) if server else None
        if host is not None and not self.allows(host, local):
            return self._refuse(scope, host)
        if forwarded is not None and (local is None or self._on_socket(local)):
            for one in forwarded.split(b","):
                if not self.allows_forwarded(one):
                    return self._refuse(scope, one)
        return None

    def _on_socket(self, local: str) -> bool:
        known = self._sockets.get(local)
        if known is None:
            known = _is_address(host_name(local))
            if len(self._sockets) < _MAX_VERDICTS:
                self._sockets[local] = known
        return known

    def _refuse(self, scope: Scope, value: bytes) -> Response:
        shown = value.decode("latin-1").strip()[:100]
        log.info("refused a request for host %r", shown, extra={"path": scope.get("path")})
        error = MisdirectedRequest(
            f"This service does not answer to the host '{shown}'.",
            detail=f"Served hosts are loopback, the public URL's host and {self.setting}.",
        )
        if scope.get("path") == ROUTER_PATH:
            reply = render_fault(error)
            return Response(reply.body, status_code=reply.status_code, media_type=reply.media_type)
        return JSONResponse(error.to_json(), status_code=error.status_code)
