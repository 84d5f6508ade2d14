"""Who may call the control instance's SOAP router: its own operators, as Campaign reads them.

Credentials are read where a Campaign client puts them, with the execution instance's rules
(services/auth/security.py): a session token in the ``__sessiontoken`` cookie (HTTP or SOAP
header) or ``X-Session-Token``, with its ``X-Security-Token``; a session token alone in
``<sessiontoken>``; ``login/password`` in either place (Adobe's JS SDK, ``ofSessionToken``);
or ``Authorization: Bearer`` with an API token of ``POST /api/v1/auth/login``. Passwords are
checked by the control instance's auth service, through its login throttle. A Logon session is
an auth token of kind ``soap``: ``___`` + the token, its security token ``@`` + the token's
second secret; expired or closed, it is Campaign's XSV-350008.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from control_instance.auth import service as auth
from control_instance.auth.roles import Principal
from control_instance.state import ControlState
from services.auth.security import DENIED, EXPIRED, Logon
from services.errors import AuthenticationFailed, Forbidden, SessionExpired
from services.settings import Environment

__all__ = [
    "SOAP_KIND",
    "Caller",
    "SoapCredentials",
    "authenticate",
    "close_session",
    "logon",
]

#: The kind of auth token a SOAP Logon opens.
SOAP_KIND = "soap"
_SESSION_PREFIX, _SECURITY_PREFIX = "___", "@"


@dataclass(frozen=True)
class SoapCredentials:
    """What a SOAP call carries that may authenticate it (empty values are absent ones)."""

    address: str
    body_token: str = ""
    cookie_token: str | None = None
    security_token: str | None = None
    bearer: str | None = None


@dataclass(frozen=True)
class Caller:
    """An authenticated SOAP caller: its login and role, and the Logon session it used, if any."""

    login: str
    role: str
    session: Principal | None = None


def _is_user_password(value: str) -> bool:
    return "/" in value and not value.startswith(_SESSION_PREFIX)


def _production(state: ControlState) -> bool:
    return state.settings.environment is Environment.PRODUCTION


def _denied(error: AuthenticationFailed) -> AuthenticationFailed:
    # Campaign's wording of a refused login (the SDK shows it); the auth service's in detail.
    return AuthenticationFailed(DENIED, detail=error.detail or error.message)


def logon(state: ControlState, *, address: str, login: str, password: str) -> tuple[Logon, str]:
    """Check ``login``'s password (throttled) and open a SOAP session (``xtk:session#Logon``).

    Return the session and the operator's role.
    """
    try:
        issued = auth.log_in(
            db=state.db,
            throttle=state.throttle,
            login=login,
            password=password,
            address=address,
            kind=SOAP_KIND,
            ttl_seconds=state.settings.session_ttl_seconds,
            production=_production(state),
        )
    except AuthenticationFailed as exc:
        raise _denied(exc) from None
    assert issued.csrf_token is not None
    opened = Logon(
        session_token=_SESSION_PREFIX + issued.token,
        security_token=_SECURITY_PREFIX + issued.csrf_token,
        login=issued.operator.login,
        expires_at=issued.expires_at,
    )
    return opened, issued.operator.role.value


def _session(state: ControlState, token: str, security_token: str | None) -> Caller:
    try:
        principal = auth.authenticate(
            db=state.db, token=token.removeprefix(_SESSION_PREFIX), kind=SOAP_KIND
        )
    except AuthenticationFailed as exc:
        raise SessionExpired(
            EXPIRED,
            detail=f"{exc.message}: this session token is unknown to the control instance, "
            "expired or was closed; call xtk:session#Logon again",
        ) from None
    if security_token is not None:
        try:
            auth.check_csrf(
                db=state.db,
                principal=principal,
                csrf_token=security_token.removeprefix(_SECURITY_PREFIX),
            )
        except Forbidden:
            raise SessionExpired(
                EXPIRED, detail="the X-Security-Token does not match the session"
            ) from None
    return Caller(login=principal.login, role=principal.role.value, session=principal)


def _user_password(state: ControlState, value: str, address: str) -> Caller:
    login, _, password = value.partition("/")
    try:
        row = auth.check_login(
            db=state.db,
            throttle=state.throttle,
            login=login,
            password=password,
            address=address,
            production=_production(state),
        )
    except AuthenticationFailed as exc:
        raise _denied(exc) from None
    return Caller(login=row.login, role=row.role)


def _bearer(state: ControlState, token: str) -> Caller:
    try:
        principal = auth.authenticate(db=state.db, token=token, kind="bearer")
    except AuthenticationFailed as exc:
        raise AuthenticationFailed(DENIED, detail=f"Authorization: Bearer: {exc.message}") from None
    return Caller(login=principal.login, role=principal.role.value)


def _authenticate(state: ControlState, credentials: SoapCredentials) -> Caller:
    body = credentials.body_token.strip()
    cookie = (credentials.cookie_token or "").strip()
    if cookie and not _is_user_password(cookie):
        caller = _session(state, cookie, credentials.security_token)
    elif cookie or _is_user_password(body):
        caller = _user_password(state, cookie or body, credentials.address)
    elif body.startswith(_SESSION_PREFIX):
        caller = _session(state, body, None)
    elif credentials.bearer:
        caller = _bearer(state, credentials.bearer)
    else:
        raise SessionExpired(
            EXPIRED,
            detail="no credentials: call xtk:session#Logon with an operator of the control "
            "instance, send login/password in <sessiontoken>, or Authorization: Bearer with "
            "a token of POST /api/v1/auth/login",
        )
    return caller


async def authenticate(state: ControlState, credentials: SoapCredentials) -> Caller:
    """Return the operator behind ``credentials``, or refuse; every role may call (viewer up)."""
    return await run_in_threadpool(_authenticate, state, credentials)


async def close_session(state: ControlState, caller: Caller) -> None:
    """Close the Logon session ``caller`` used (Logoff); other credentials stay as they are."""
    if caller.session is not None:
        principal = caller.session
        await run_in_threadpool(lambda: auth.log_out(db=state.db, principal=principal))
