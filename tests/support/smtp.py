"""A real SMTP server for tests: aiosmtpd on a free loopback port, in its own thread.

It accepts every message unless told to refuse a recipient (``550`` user unknown, ``452``
mailbox full, or any code), and keeps what it received::

    with SmtpSink(reject={"bob@example.com": 550}) as sink:
        ... point MCSIM_MID_SMTP_HOST / SMTP_PORT at sink.host / sink.port ...
        await sink.wait_for(3)
        assert sink.count("ann@example.com") == 1
        assert sink.attempts["bob@example.com"] == 1

``attempts`` counts every RCPT TO per recipient, refused or not, so a test can see retries.
``starttls=True`` offers (and requires) STARTTLS with a throw-away self-signed certificate made
by the ``openssl`` command; ``auth=(user, password)`` requires SMTP AUTH, over STARTTLS.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import functools
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

__all__ = ["REPLIES", "ReceivedMail", "SmtpSink", "free_port"]

#: The reply sent for a refused recipient, by code.
REPLIES = {
    550: "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown",
    551: "551 5.1.6 <{rcpt}>: User not local",
    552: "552 5.2.2 <{rcpt}>: Mailbox full",
    553: "553 5.1.3 <{rcpt}>: Mailbox name not allowed",
    554: "554 5.7.1 <{rcpt}>: Relay access denied",
    421: "421 4.4.2 Service not available, closing transmission channel",
    450: "450 4.7.1 <{rcpt}>: Greylisted, try again later",
    451: "451 4.3.0 <{rcpt}>: Temporary local problem",
    452: "452 4.2.2 <{rcpt}>: Mailbox full",
}


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@functools.cache
def _certificate() -> tuple[str, str]:
    folder = Path(tempfile.mkdtemp(prefix="mcsim-smtp-tls-"))
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


def _tls_context() -> ssl.SSLContext:
    cert, key = _certificate()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@dataclass(frozen=True)
class ReceivedMail:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    received_at: float

    @property
    def message(self) -> EmailMessage:
        """Return the message parsed by Python's email package."""
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class _Handler:
    sink: SmtpSink

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        return self.sink._on_rcpt(envelope, address)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return self.sink._on_data(envelope)


@dataclass
class _Authenticator:
    user: str
    password: str

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.user
            and auth_data.password.decode() == self.password
        )
        return AuthResult(success=ok, handled=False)


@dataclass
class SmtpSink:
    """An SMTP server that records what it receives and refuses chosen recipients."""

    reject: dict[str, int | str] = field(default_factory=dict)
    auth: tuple[str, str] | None = None
    starttls: bool = False
    host: str = "127.0.0.1"
    port: int = 0
    received: list[ReceivedMail] = field(default_factory=list)
    attempts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._controller: Controller | None = None
        self.reject = {address.lower(): rule for address, rule in self.reject.items()}

    # -- control ------------------------------------------------------------------------------
    def start(self) -> SmtpSink:
        """Start listening on a free loopback port."""
        self.port = self.port or free_port(self.host)
        options: dict[str, Any] = {}
        if self.starttls or self.auth is not None:
            options.update(tls_context=_tls_context(), require_starttls=True)
        if self.auth is not None:
            options.update(authenticator=_Authenticator(*self.auth), auth_required=True)
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port, **options)
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def refuse(self, address: str, rule: int | str) -> None:
        """Refuse ``address`` from now on: a code of :data:`REPLIES` or a full reply line."""
        with self._lock:
            self.reject[address.lower()] = rule

    def accept(self, address: str) -> None:
        """Stop refusing ``address``."""
        with self._lock:
            self.reject.pop(address.lower(), None)

    # -- what was received ---------------------------------------------------------------------
    def count(self, recipient: str | None = None) -> int:
        """Return how many messages were accepted (for ``recipient``)."""
        with self._lock:
            if recipient is None:
                return len(self.received)
            wanted = recipient.lower()
            return sum(1 for m in self.received if wanted in (r.lower() for r in m.rcpt_tos))

    def messages_for(self, recipient: str) -> list[ReceivedMail]:
        """Return the messages accepted for ``recipient``."""
        wanted = recipient.lower()
        with self._lock:
            return [m for m in self.received if wanted in (r.lower() for r in m.rcpt_tos)]

    async def wait_for(self, count: int, *, within: float = 10.0) -> None:
        """Wait until at least ``count`` messages were accepted."""
        deadline = time.monotonic() + within
        while self.count() < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.count()} messages received, expected {count}")
            await asyncio.sleep(0.02)

    # -- server side ------------------------------------------------------------------------------
    def _on_rcpt(self, envelope: Any, address: str) -> str:
        with self._lock:
            self.attempts[address.lower()] += 1
            rule = self.reject.get(address.lower())
        if rule is None:
            envelope.rcpt_tos.append(address)
            return "250 2.1.5 OK"
        if isinstance(rule, int):
            return REPLIES.get(rule, f"{rule} refused <{{rcpt}}>").format(rcpt=address)
        return rule

    def _on_data(self, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        data = content if isinstance(content, bytes) else str(content).encode()
        mail = ReceivedMail(
            mail_from=str(envelope.mail_from),
            rcpt_tos=list(envelope.rcpt_tos),
            data=data,
            received_at=time.time(),
        )
        with self._lock:
            self.received.append(mail)
            number = len(self.received)
        return f"250 2.0.0 Ok: queued as sink-{number}"
