"""Use cases of execution-instance accounts: CRUD, test and initialize connection, targets.

"Initialize connection" reads the instance's id from ``GET /_mc/info`` and records it once it is
sure no other account holds that id (the execution instance takes its id from its settings;
it cannot be set remotely yet).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from control_instance.accounts.client import InstanceCallError, InstanceClient, InstanceInfo
from control_instance.accounts.schemas import (
    AccountCreate,
    AccountPublic,
    AccountUpdate,
    ConnectionTest,
)
from control_instance.pagination import Page, PageParams, fetch_page
from control_instance.state import ControlState
from control_instance.tables import Account
from services.clock import utc_now
from services.db import Database
from services.errors import Conflict, InvalidRequest, NotFound, UpstreamUnavailable

__all__ = [
    "PASSWORD_PURPOSE",
    "Target",
    "client_for",
    "create_account",
    "delete_account",
    "get_account",
    "initialize_connection",
    "list_accounts",
    "list_targets",
    "register_from_settings",
    "test_connection",
    "update_account",
]

log = logging.getLogger("mcsim.control.accounts")

PASSWORD_PURPOSE = "account-password"  # noqa: S105 - a label, not a password


@dataclass(frozen=True)
class Target:
    """An account ready to be called: its URL and decrypted credentials."""

    account_id: int
    name: str
    label: str
    url: str
    login: str
    password: str
    instance_id: int | None


def public(row: Account) -> AccountPublic:
    """Return the API view of an account (without its password)."""
    return AccountPublic(
        id=row.id,
        name=row.name,
        label=row.label,
        url=row.url,
        login=row.login,
        enabled=row.enabled,
        instance_id=row.instance_id,
        last_checked_at=row.last_checked_at,
        last_check_ok=row.last_check_ok,
        last_error=row.last_error,
        last_synced_at=row.last_synced_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _get(session: Session, account_id: int) -> Account:
    row = session.get(Account, account_id)
    if row is None:
        raise NotFound(f"no execution instance account {account_id}")
    return row


def list_accounts(*, db: Database, page: PageParams) -> Page[AccountPublic]:
    """Return a page of accounts, by name."""
    with db.transaction() as session:
        rows, total = fetch_page(session, select(Account).order_by(Account.name), page)
        items = [public(row) for row in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


def get_account(*, db: Database, account_id: int) -> AccountPublic:
    """Return one account."""
    with db.transaction() as session:
        return public(_get(session, account_id))


def create_account(*, state: ControlState, new: AccountCreate) -> AccountPublic:
    """Create an account; its password is stored encrypted."""
    now = utc_now()
    row = Account(
        name=new.name,
        label=new.label or new.name,
        url=new.url.rstrip("/"),
        login=new.login,
        password_secret=state.box.seal(new.password, purpose=PASSWORD_PURPOSE),
        enabled=new.enabled,
        created_at=now,
        updated_at=now,
    )
    try:
        with state.db.transaction(write=True) as session:
            session.add(row)
    except IntegrityError:
        raise Conflict(f"an account named {new.name!r} exists already", field="name") from None
    return public(row)


def update_account(
    *, state: ControlState, account_id: int, changes: AccountUpdate
) -> AccountPublic:
    """Change an account; a new URL forgets the instance id until it is initialized again.

    A new URL needs the password again in the same change: the stored password is only ever
    sent to the URL it was given for (security review F11).
    """
    with state.db.transaction(write=True) as session:
        row = _get(session, account_id)
        if changes.label is not None:
            row.label = changes.label
        if changes.url is not None and changes.url.rstrip("/") != row.url:
            if changes.password is None:
                raise InvalidRequest(
                    "a new URL needs the account's password again",
                    detail="the stored password is only sent to the URL it was entered for: "
                    "send the password with the new URL",
                    field="password",
                )
            row.url = changes.url.rstrip("/")
            row.instance_id = None
        if changes.login is not None:
            row.login = changes.login
        if changes.password is not None:
            row.password_secret = state.box.seal(changes.password, purpose=PASSWORD_PURPOSE)
        if changes.enabled is not None:
            row.enabled = changes.enabled
        row.updated_at = utc_now()
        return public(row)


def delete_account(*, db: Database, account_id: int) -> None:
    """Delete an account (what was published on the instance stays there)."""
    with db.transaction(write=True) as session:
        session.delete(_get(session, account_id))


def _target(state: ControlState, row: Account) -> Target:
    return Target(
        account_id=row.id,
        name=row.name,
        label=row.label,
        url=row.url,
        login=row.login,
        password=state.box.open(row.password_secret, purpose=PASSWORD_PURPOSE),
        instance_id=row.instance_id,
    )


def list_targets(*, state: ControlState, account_id: int | None = None) -> list[Target]:
    """Return the enabled accounts (or the one asked for, enabled or not) with credentials."""
    with state.db.transaction() as session:
        if account_id is not None:
            rows = [_get(session, account_id)]
        else:
            statement = select(Account).where(Account.enabled.is_(True)).order_by(Account.name)
            rows = list(session.execute(statement).scalars())
        return [_target(state, row) for row in rows]


def client_for(state: ControlState, target: Target) -> InstanceClient:
    """Return the ``/_mc/`` client of a target."""
    return InstanceClient(
        state.http,
        url=target.url,
        login=target.login,
        password=target.password,
        timeout=state.settings.instance_timeout_seconds,
    )


def _record_check(db: Database, account_id: int, error: str | None) -> None:
    with db.transaction(write=True) as session:
        row = session.get(Account, account_id)
        if row is not None:
            row.last_checked_at = utc_now()
            row.last_check_ok = error is None
            row.last_error = error


async def _info(state: ControlState, account_id: int) -> InstanceInfo | InstanceCallError:
    (target,) = await run_in_threadpool(lambda: list_targets(state=state, account_id=account_id))
    try:
        info: InstanceInfo | InstanceCallError = await client_for(state, target).info()
    except InstanceCallError as exc:
        info = exc
    error = info.message if isinstance(info, InstanceCallError) else None
    await run_in_threadpool(_record_check, state.db, account_id, error)
    return info


async def test_connection(*, state: ControlState, account_id: int) -> ConnectionTest:
    """Call the instance with the account and report what it says, or why it failed."""
    info = await _info(state, account_id)
    if isinstance(info, InstanceCallError):
        return ConnectionTest(ok=False, error=info.message)
    return ConnectionTest(
        ok=True,
        instance_id=info.instance_id,
        version=info.version,
        public_url=info.public_url,
        event_types=info.event_types,
        pending_events=info.pending_events,
    )


async def initialize_connection(*, state: ControlState, account_id: int) -> AccountPublic:
    """Give the instance a unique id (1 to 255), set it on the instance, and record it."""
    info = await _info(state, account_id)
    if isinstance(info, InstanceCallError):
        raise UpstreamUnavailable(
            "the execution instance cannot be initialized", detail=info.message
        )
    return await _initialize(state, account_id, info)


def _choose_id(db: Database, account_id: int, reported: int) -> int:
    """Keep the instance's own id unless another account holds it; else the account's, or the
    lowest free one. Two accounts for one instance (same URL) are refused."""
    with db.transaction() as session:
        row = _get(session, account_id)
        twin = session.execute(
            select(Account.name).where(Account.url == row.url, Account.id != account_id)
        ).scalar_one_or_none()
        if twin is not None:
            raise Conflict(
                f"account {twin!r} already points at {row.url}",
                detail="one execution instance needs one account: delete one of them",
            )
        held = {
            instance_id: holder
            for holder, instance_id in session.execute(
                select(Account.id, Account.instance_id).where(Account.instance_id.is_not(None))
            )
        }
    if held.get(reported, account_id) == account_id:
        return reported
    own = next((instance_id for instance_id, holder in held.items() if holder == account_id), None)
    if own is not None:
        return own
    free = next((number for number in range(1, 256) if number not in held), None)
    if free is None:
        raise Conflict(
            "every instance id from 1 to 255 is held by an account",
            detail="delete an account that is no longer used",
        )
    return free


async def _initialize(state: ControlState, account_id: int, info: InstanceInfo) -> AccountPublic:
    wanted = await run_in_threadpool(_choose_id, state.db, account_id, info.instance_id)
    if wanted != info.instance_id:
        (target,) = await run_in_threadpool(
            lambda: list_targets(state=state, account_id=account_id)
        )
        try:
            await client_for(state, target).assign_instance_id(wanted)
        except InstanceCallError as exc:
            error = Conflict if exc.status == 409 else UpstreamUnavailable
            raise error(
                f"the execution instance (id {info.instance_id}, an id another account holds) "
                f"cannot take the id {wanted}",
                detail=exc.message,
            ) from None
        log.info(
            "execution instance id assigned",
            extra={"account": account_id, "previous": info.instance_id, "instance_id": wanted},
        )
    return await run_in_threadpool(_set_instance_id, state.db, account_id, wanted)


def _set_instance_id(db: Database, account_id: int, instance_id: int) -> AccountPublic:
    with db.transaction(write=True) as session:
        holder = session.execute(
            select(Account).where(Account.instance_id == instance_id, Account.id != account_id)
        ).scalar_one_or_none()
        if holder is not None:
            raise Conflict(
                f"instance id {instance_id} is already held by account {holder.name!r}",
                detail="each execution instance needs a unique id (MCSIM_EXEC_INSTANCE_ID): "
                "two accounts point at the same instance, or two instances share an id",
            )
        row = _get(session, account_id)
        row.instance_id = instance_id
        row.updated_at = utc_now()
        return public(row)


async def register_from_settings(
    *, state: ControlState, attempts: int = 10, delay: float = 0.5
) -> None:
    """Create an account per ``execution_urls`` entry not known yet, then initialize them.

    Accounts of those URLs take the settings' control-plane credentials at every start, so that
    a changed ``EXECUTION_PASSWORD`` (or the control-plane account that replaced ``mc``) reaches
    the accounts made by an earlier start.
    """
    settings = state.settings
    created = await run_in_threadpool(_register, state, settings.execution_urls)
    for account_id in created:
        for attempt in range(1, attempts + 1):
            info = await _info(state, account_id)
            if isinstance(info, InstanceInfo):
                try:
                    await _initialize(state, account_id, info)
                except (Conflict, UpstreamUnavailable) as exc:
                    log.warning("execution instance id conflict", extra={"error": exc.message})
                break
            if info.status is not None or attempt == attempts:  # refused, or still unreachable
                log.warning(
                    "cannot initialize an execution instance",
                    extra={"account": account_id, "error": info.message},
                )
                break
            await asyncio.sleep(delay)


def _follow_settings(state: ControlState, row: Account, now: datetime) -> None:
    settings = state.settings
    password = settings.execution_password or ""
    if row.login == settings.execution_login and password == state.box.open(
        row.password_secret, purpose=PASSWORD_PURPOSE
    ):
        return
    row.login = settings.execution_login
    row.password_secret = state.box.seal(password, purpose=PASSWORD_PURPOSE)
    row.updated_at = now


def _register(state: ControlState, urls: list[str]) -> list[int]:
    settings = state.settings
    pending: list[int] = []
    with state.db.transaction(write=True) as session:
        accounts = list(session.execute(select(Account)).scalars())
        known = {row.url: row for row in accounts}
        names = {row.name for row in accounts}
        by_name = {row.name: row for row in accounts}
        configured = {url.rstrip("/") for url in urls}
        now = utc_now()
        for number, url in enumerate(urls, start=1):
            url = url.rstrip("/")
            if url in known:
                _follow_settings(state, known[url], now)
                continue
            name = f"exec{number}"
            moved = by_name.get(name)
            if moved is not None and moved.url not in configured:
                # The settings made this account for their instance NUMBER, which now answers
                # at another URL (mcsim up on the same data directory with other ports): the
                # same instance, its history and cursor go on.
                log.info(
                    "execution instance account moved",
                    extra={"account": name, "from": moved.url, "to": url},
                )
                moved.url = url
                _follow_settings(state, moved, now)
                moved.updated_at = now
                pending.append(moved.id)
                continue
            while name in names:
                name += "_"
            names.add(name)
            row = Account(
                name=name,
                label=f"Execution instance {number}",
                url=url,
                login=settings.execution_login,
                password_secret=state.box.seal(
                    settings.execution_password or "", purpose=PASSWORD_PURPOSE
                ),
                enabled=True,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            pending.append(row.id)
        pending += [row.id for row in accounts if row.instance_id is None and row.enabled]
    return pending
