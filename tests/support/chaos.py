"""Sustained load with faults, then an audit of every event (issue 17, item 2).

:class:`Load` pushes events through the load balancer at a steady rate, half REST and half SOAP,
each to an address of its own, so that what the SMTP relay received tells which event was sent:

- a REST client sends ``Idempotency-Key`` and retries the same request with the same key until
  it gets ``201``/``200`` (or gives up at the deadline);
- a SOAP client has no key: it retries only what was never acknowledged, as a new attempt to a
  new address (``…-a2@``), so a retry that doubles an event whose answer was lost shows up as
  an unacknowledged attempt that was sent, not as a duplicate.

:func:`run_faults` plays a schedule of :class:`Step` while the load runs and times each
recovery. :func:`audit` then reads every acknowledged event's status through the balancer and
counts, per address, the messages the relay accepted:

- acknowledged ⇒ a final status, and sent exactly once when it is ``processed``;
- not acknowledged ⇒ not sent;
- a second copy of a message is counted apart when mid-sourcing was SIGKILLed between the two
  copies: the documented at-least-once window (killed between an SMTP send and its commit).

The window of a SIGKILL ends when the supervisor started the process that replaced the killed
one, not at the kill: the relay (in this test process, behind a proxy) can take a copy the
killed process wrote just before it died some time after the kill was noted, while nobody else
could have sent it before the new process existed. The same holds for a cut of the relay link:
its window ends when the link is restored.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

import httpx

from services.dev_credentials import TECHNICAL_TOKEN
from services.testing.faultproxy import Fault, ProxyControl
from tests.support.faultstack import FaultStack
from tests.support.pgcluster import PgCluster
from tests.support.smtp import SmtpSink

__all__ = [
    "Audit",
    "FaultRecord",
    "Load",
    "Step",
    "Window",
    "audit",
    "drive",
    "kill_windows",
    "run_faults",
    "schedule",
]

EVENTS = "/acme/campaign/mcacme/EVTPASSWORD_RESET"
ROUTER = "/nl/jsp/soaprouter.jsp"
BEARER = {"authorization": f"Bearer {TECHNICAL_TOKEN}"}
SOAP_HEADERS = {"content-type": "text/xml; charset=utf-8", "soapaction": "nms:rtEvent#PushEvent"}
FINAL = {"processed", "ignored", "deliveryFailed", "routingFailed", "tooOld"}
_PLID = "<plId xsi:type='xsd:long'>"


@dataclass
class Attempt:
    """One request of a client."""

    email: str
    started: float
    acked: bool = False
    pkey: int | None = None
    error: str | None = None


@dataclass
class Logical:
    """One event a client wants stored, with all its attempts."""

    index: int
    kind: str  # "rest" | "soap"
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def acked(self) -> bool:
        """Return whether one attempt was acknowledged."""
        return any(a.acked for a in self.attempts)


def _soap_envelope(email: str, index: int) -> bytes:
    ctx = f"<firstName>Chaos{index}</firstName><resetUrl>https://shop.test/r/{index}</resetUrl>"
    return (
        "<soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/envelope/' "
        "xmlns:urn='urn:nms:rtEvent'><soapenv:Body><urn:PushEvent>"
        "<urn:sessiontoken>mc/mc</urn:sessiontoken><urn:domEvent>"
        f"<rtEvent type='PASSWORD_RESET' email='{escape(email)}'><ctx>{ctx}</ctx></rtEvent>"
        "</urn:domEvent></urn:PushEvent></soapenv:Body></soapenv:Envelope>"
    ).encode()


class Load:
    """Push ``rate`` events a second for ``seconds`` through the load balancer, with retries."""

    def __init__(
        self,
        lb_url: str,
        *,
        rate: float,
        seconds: float,
        run: str,
        give_up_after: float = 90.0,
        request_timeout: float = 8.0,
    ) -> None:
        self.lb_url = lb_url
        self.rate = rate
        self.seconds = seconds
        self.run = run
        self.give_up_after = give_up_after
        self.request_timeout = request_timeout
        self.events: list[Logical] = []
        self.started_at = 0.0
        self.finished_at: float | None = None

    def address(self, index: int, attempt: int = 1) -> str:
        """Return the address of event ``index`` (SOAP: of its attempt)."""
        return f"chaos-{self.run}-{index}-a{attempt}@example.com"

    async def run_load(self) -> list[Logical]:
        """Send every event (retrying as its client does) and return them all."""
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
        timeout = httpx.Timeout(self.request_timeout, connect=3.0)
        async with httpx.AsyncClient(
            base_url=self.lb_url, timeout=timeout, limits=limits, trust_env=False
        ) as client:
            started = self.started_at = time.monotonic()
            deadline = started + self.seconds + self.give_up_after
            tasks: list[asyncio.Task[None]] = []
            index = 0
            while time.monotonic() - started < self.seconds:
                event = Logical(index, "rest" if index % 2 == 0 else "soap")
                self.events.append(event)
                tasks.append(asyncio.create_task(self._client(client, event, deadline)))
                index += 1
                await asyncio.sleep(max(0.0, started + index / self.rate - time.monotonic()))
            await asyncio.gather(*tasks)
        self.finished_at = time.monotonic()
        return self.events

    async def _client(self, client: httpx.AsyncClient, event: Logical, deadline: float) -> None:
        delay = 0.25
        while time.monotonic() < deadline:
            if event.kind == "rest":
                attempt = await self._rest(client, event)
            else:
                attempt = await self._soap(client, event)
            if attempt.acked:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _rest(self, client: httpx.AsyncClient, event: Logical) -> Attempt:
        attempt = Attempt(self.address(event.index), time.monotonic())
        event.attempts.append(attempt)
        body = {
            "email": attempt.email,
            "ctx": {"firstName": f"Chaos{event.index}", "resetUrl": "https://shop.test/r"},
        }
        headers = {**BEARER, "Idempotency-Key": f"chaos-{self.run}-{event.index}"}
        try:
            answer = await client.post(EVENTS, json=body, headers=headers)
        except httpx.HTTPError as exc:
            attempt.error = type(exc).__name__
            return attempt
        if answer.status_code in {200, 201}:
            attempt.acked, attempt.pkey = True, int(answer.json()["PKey"])
        else:
            attempt.error = f"HTTP {answer.status_code}"
        return attempt

    async def _soap(self, client: httpx.AsyncClient, event: Logical) -> Attempt:
        number = len(event.attempts) + 1
        attempt = Attempt(self.address(event.index, number), time.monotonic())
        event.attempts.append(attempt)
        try:
            answer = await client.post(
                ROUTER, content=_soap_envelope(attempt.email, event.index), headers=SOAP_HEADERS
            )
        except httpx.HTTPError as exc:
            attempt.error = type(exc).__name__
            return attempt
        if answer.status_code == 200 and _PLID in answer.text:
            attempt.acked = True
            attempt.pkey = int(answer.text.split(_PLID, 1)[1].split("<", 1)[0])
        else:
            attempt.error = f"HTTP {answer.status_code}"
        return attempt


# -- faults ------------------------------------------------------------------------------------


@dataclass
class Step:
    """A fault injected ``at`` seconds into the load; ``lift`` (if any) ends it ``hold`` later."""

    at: float
    name: str
    inject: Callable[[], object]
    lift: Callable[[], object] | None = None
    hold: float = 0.0
    #: Blocks until the part of the stack hit by the fault works again.
    recovered: Callable[[], object] | None = None


@dataclass
class FaultRecord:
    """What happened to one step."""

    name: str
    injected_at: float
    ended_at: float = 0.0
    recovered_s: float | None = None
    error: str | None = None


async def run_faults(steps: Sequence[Step], started: float) -> list[FaultRecord]:
    """Play ``steps`` (times from ``started``, a monotonic time); return what happened."""
    records: list[FaultRecord] = []
    for step in sorted(steps, key=lambda s: s.at):
        await asyncio.sleep(max(0.0, started + step.at - time.monotonic()))
        record = FaultRecord(step.name, time.monotonic() - started)
        records.append(record)
        try:
            await asyncio.to_thread(step.inject)
            if step.lift is not None:
                await asyncio.sleep(step.hold)
                await asyncio.to_thread(step.lift)
            record.ended_at = time.monotonic() - started
            if step.recovered is not None:
                await asyncio.to_thread(step.recovered)
                record.recovered_s = time.monotonic() - started - record.ended_at
        except Exception as exc:  # reported in the audit, never hidden
            record.error = f"{type(exc).__name__}: {exc}"
    return records


async def run_with_faults(load: Load, steps: Sequence[Step]) -> list[FaultRecord]:
    """Run ``load`` and the fault schedule together; return the fault records."""
    started = time.monotonic()
    loading = asyncio.create_task(load.run_load())
    records = await run_faults(steps, started)
    await loading
    return records


# -- the audit ---------------------------------------------------------------------------------


@dataclass
class Audit:
    """The account of every event after a run."""

    logical: int = 0
    attempts: int = 0
    acked: int = 0
    never_acked: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    sent_once: int = 0
    #: Acknowledged and not final, or processed and never sent: lost.
    lost: list[str] = field(default_factory=list)
    #: Sent more than once outside the at-least-once window: duplicated.
    duplicated: list[str] = field(default_factory=list)
    #: Sent twice with a mid-sourcing SIGKILL between the two copies.
    at_least_once_window: list[str] = field(default_factory=list)
    #: Sent twice with a cut of the relay link between the two copies: the relay's 250 was lost
    #: with the connection (SMTP's own at-least-once, RFC 1047).
    smtp_window: list[str] = field(default_factory=list)
    #: One Idempotency-Key answered with two different events.
    key_duplicates: list[str] = field(default_factory=list)
    #: Not acknowledged to the client but sent (the answer was lost in transit).
    unacked_sent: list[str] = field(default_factory=list)
    #: Acknowledged, final, not processed (deliveryFailed, tooOld...): not lost, but reported.
    not_processed: list[str] = field(default_factory=list)
    #: Addresses of sent events whose mid-sourcing capture store does not hold exactly one sent
    #: message (two would be one event handed over as two messages).
    capture_mismatches: list[str] = field(default_factory=list)
    #: For each duplicate: its copies (time, Message-ID) and mid-sourcing's record of it.
    evidence: list[str] = field(default_factory=list)
    drain_s: float = 0.0

    @property
    def clean(self) -> bool:
        """Return whether nothing was lost or duplicated outside the counted window."""
        return not (self.lost or self.duplicated or self.key_duplicates or self.capture_mismatches)

    def lines(self) -> list[str]:
        """Return the audit as readable lines."""
        return [
            f"events: {self.logical} ({self.attempts} requests), acknowledged {self.acked}, "
            f"never acknowledged {self.never_acked}",
            f"final statuses: {dict(self.statuses)}; sent exactly once: {self.sent_once}",
            f"lost: {len(self.lost)} {self.lost[:10]}",
            f"duplicated: {len(self.duplicated)} {self.duplicated[:10]}",
            f"one key, two events: {len(self.key_duplicates)} {self.key_duplicates[:10]}",
            f"at-least-once window (mid-sourcing SIGKILLed between send and commit): "
            f"{len(self.at_least_once_window)} {self.at_least_once_window[:10]}",
            f"SMTP window (the relay's answer lost with a cut connection): "
            f"{len(self.smtp_window)} {self.smtp_window[:10]}",
            f"not acknowledged but sent (answer lost): {len(self.unacked_sent)} "
            f"{self.unacked_sent[:10]}",
            f"acknowledged, final, not processed: {len(self.not_processed)} "
            f"{self.not_processed[:10]}",
            f"capture store, not one sent message per sent event: "
            f"{len(self.capture_mismatches)} {self.capture_mismatches[:10]}",
            f"drained {self.drain_s:.1f} s after the load ended",
            *self.evidence,
        ]


async def _statuses(lb_url: str, pkeys: Sequence[int], within: float) -> dict[int, str]:
    """Poll every event's status through the balancer until all are final (or ``within`` s)."""
    found: dict[int, str] = {}
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(base_url=lb_url, timeout=10, trust_env=False) as client:
        semaphore = asyncio.Semaphore(16)

        async def one(pkey: int) -> None:
            async with semaphore:
                try:
                    answer = await client.get(f"{EVENTS}/{pkey}", headers=BEARER)
                except httpx.HTTPError as exc:
                    found[pkey] = f"unreadable ({type(exc).__name__})"
                    return
            if answer.status_code == 200:
                found[pkey] = str(answer.json()["status"])
            else:
                found[pkey] = f"HTTP {answer.status_code}"

        while True:
            await asyncio.gather(*(one(p) for p in pkeys if found.get(p) not in FINAL))
            if all(found.get(p) in FINAL for p in pkeys) or time.monotonic() > deadline:
                return found
            await asyncio.sleep(1.0)


async def _wait_sent(
    relay: SmtpSink, wanted: dict[str, int], statuses_ready: float, settle: float
) -> None:
    """Wait until each address that should get a message has one, then ``settle`` more."""
    deadline = time.monotonic() + max(5.0, statuses_ready)
    while time.monotonic() < deadline:
        if all(relay.count(address) >= 1 for address in wanted):
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(settle)  # a duplicate, if any, comes within the sync and retry delays


@dataclass(frozen=True)
class Window:
    """An at-least-once window: the fault ``at`` (wall time) may lose the outcome of a send
    that reached the relay; ``until``: the earliest a second copy can be sent (the process that
    replaced the killed one started, the link came back)."""

    at: float
    until: float


def _window_gap(relay: SmtpSink, address: str, windows: Sequence[Window]) -> float | None:
    """Return when, from the fault, the relay took the first copy if a window explains the
    copies: the first taken before the window's end, the last after it (else None)."""
    copies = sorted(m.received_at for m in relay.messages_for(address))
    gaps = [copies[0] - w.at for w in windows if copies[0] < w.until <= copies[-1]]
    return min(gaps, key=abs) if gaps else None


def kill_windows(stack: FaultStack, name: str) -> list[Window]:
    """Return the window of each SIGKILL of service ``name``: until its replacement started."""
    starts = stack.start_times(name)
    windows = []
    for killed in stack.kill_times(name):
        after = [when for when in starts if when >= killed]
        windows.append(Window(killed, min(after) if after else float("inf")))
    return windows


async def audit(
    load: Load,
    relay: SmtpSink,
    *,
    mid_kills: Sequence[Window],
    relay_cuts: Sequence[Window] = (),
    mid_url: str | None = None,
    drain_timeout: float = 120.0,
    settle: float = 3.0,
) -> Audit:
    """Account for every event of ``load`` (``mid_kills``: the windows of mid-sourcing's
    SIGKILLs, ``relay_cuts`` those of the relay link's cuts; ``mid_url``: also check
    mid-sourcing's capture store)."""
    result = Audit(logical=len(load.events))
    ended = load.finished_at or time.monotonic()
    acked_pkeys: dict[int, str] = {}
    for event in load.events:
        result.attempts += len(event.attempts)
        if event.acked:
            result.acked += 1
        else:
            result.never_acked += 1
        if event.kind == "rest":
            keys = {a.pkey for a in event.attempts if a.acked}
            if len(keys) > 1:
                result.key_duplicates.append(f"{event.attempts[0].email} {sorted(keys)}")  # type: ignore[type-var]
        for attempt in event.attempts:
            if attempt.acked and attempt.pkey is not None:
                acked_pkeys.setdefault(attempt.pkey, attempt.email)
    statuses = await _statuses(load.lb_url, list(acked_pkeys), drain_timeout)
    result.drain_s = time.monotonic() - ended
    result.statuses = Counter(statuses.values())
    to_send = {acked_pkeys[p]: 1 for p, s in statuses.items() if s == "processed"}
    await _wait_sent(relay, to_send, 15.0, settle)
    counted: set[str] = set()
    for pkey, email in acked_pkeys.items():
        status = statuses.get(pkey, "unknown")
        counted.add(email)
        sent = relay.count(email)
        if status not in FINAL:
            result.lost.append(f"{email} ({pkey}) status {status}")
        elif status != "processed":
            result.not_processed.append(f"{email} {status}")
            if sent:
                result.duplicated.append(f"{email} {status} but sent {sent}x")
        elif sent == 0:
            result.lost.append(f"{email} ({pkey}) processed, never sent")
        elif sent == 1:
            result.sent_once += 1
        elif (gap := _window_gap(relay, email, mid_kills)) is not None:
            result.at_least_once_window.append(
                f"{email} sent {sent}x, the first taken {gap:+.2f} s from a SIGKILL"
            )
        elif (gap := _window_gap(relay, email, relay_cuts)) is not None:
            result.smtp_window.append(
                f"{email} sent {sent}x, the first taken {gap:+.2f} s from a cut of the relay link"
            )
        else:
            result.duplicated.append(f"{email} sent {sent}x")
    for event in load.events:
        for attempt in event.attempts:
            if attempt.email in counted or attempt.acked:
                continue
            counted.add(attempt.email)
            sent = relay.count(attempt.email)
            if sent:
                result.unacked_sent.append(f"{attempt.email} ({attempt.error}) sent {sent}x")
    if mid_url is not None:
        for line in result.duplicated:
            result.evidence.append(await _evidence(relay, mid_url, line.split(" ", 1)[0]))
        stored = await _captured(mid_url, f"chaos-{load.run}-")
        for email in to_send:
            if stored.get(email.lower(), 0) != 1:
                result.capture_mismatches.append(f"{email}: {stored.get(email.lower(), 0)}")
    return result


async def _evidence(relay: SmtpSink, mid_url: str, email: str) -> str:
    """Describe a duplicate: when each copy came with its Message-ID, and mid-sourcing's record
    of the message (tries, status, last result), to tell who sent it twice."""
    copies = [f"{m.received_at:.3f} {m.message['Message-ID']}" for m in relay.messages_for(email)]
    async with httpx.AsyncClient(base_url=mid_url, timeout=30, trust_env=False) as client:
        page = (await client.get("/api/v1/messages", params={"recipient": email})).json()
        records = []
        for summary in page["messages"]:
            detail = (await client.get(f"/api/v1/messages/{summary['id']}")).json()
            records.append(
                f"id={detail['messageId']} status={detail['status']} tries={detail['tries']} "
                f"created={detail['createdAt']} finished={detail['finishedAt']} "
                f"result={detail['result']!r}"
            )
    return f"  evidence {email}: copies {copies}; mid-sourcing {records}"


async def _captured(mid_url: str, prefix: str) -> Counter[str]:
    """Count the sent messages of mid-sourcing's capture store by recipient (``prefix``...)."""
    found: Counter[str] = Counter()
    async with httpx.AsyncClient(base_url=mid_url, timeout=30, trust_env=False) as client:
        offset = 0
        while True:
            page = (
                await client.get(
                    "/api/v1/messages",
                    params={"recipient": prefix, "limit": 1000, "offset": offset},
                )
            ).json()
            for message in page["messages"]:
                if message["status"] == "sent" and not message["proof"]:
                    found[str(message["to"]).lower()] += 1
            offset += len(page["messages"])
            if not page["messages"] or offset >= page["total"]:
                return found


def drive(load: Load, steps: Sequence[Step]) -> list[FaultRecord]:
    """Run the load and the faults to the end (for synchronous callers)."""
    return asyncio.run(run_with_faults(load, steps))


def audit_stack(load: Load, relay: SmtpSink, stack: FaultStack, *, drain_timeout: float) -> Audit:
    """Audit every event of ``load`` once it ran on ``stack`` (synchronous callers): its
    mid-sourcing kills bound the at-least-once window, its capture store is checked too."""
    return asyncio.run(
        audit(
            load,
            relay,
            mid_kills=kill_windows(stack, "midsourcing"),
            relay_cuts=[Window(cut, back) for cut, back in stack.smtp_cuts],
            mid_url=stack.mid_url,
            drain_timeout=drain_timeout,
        )
    )


def run_report(records: Sequence[FaultRecord], result: Audit) -> list[str]:
    """Return the lines of a run: each fault with its recovery, then the audit's findings."""
    faults = [
        f"{r.injected_at:5.1f}s {r.name}: recovered in {r.recovered_s}, error {r.error}"
        for r in records
    ]
    return faults + result.lines()


# -- the schedule ------------------------------------------------------------------------------


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not back within {timeout} s")
        time.sleep(0.2)


def _cut_relay(stack: FaultStack) -> None:
    stack.smtp_cuts.append((time.time(), float("inf")))
    stack.smtp_link.set(Fault.CUT)


def _restore_relay(stack: FaultStack) -> None:
    stack.smtp_link.set(Fault.PASS)
    cut, _ = stack.smtp_cuts[-1]
    stack.smtp_cuts[-1] = (cut, time.time())


def _backend_up(stack: FaultStack, k: int) -> bool:
    try:
        status = httpx.get(f"{stack.lb_url}/_lb/status", timeout=2, trust_env=False).json()
    except (httpx.HTTPError, ValueError):
        return False
    url = stack.lb_links[k].url
    return any(b["url"] == url and b["state"] == "up" for b in status["backends"])


def schedule(
    stack: FaultStack, *, every: float = 4.0, hold: float = 4.0, database: PgCluster | None = None
) -> list[Step]:
    """Return the faults of a chaos run: every process type killed, links broken, a database
    restart when ``database`` is given; one every ``every`` seconds, link faults held ``hold``.
    """

    def healthy(name: str) -> Callable[[], object]:
        return lambda: stack.wait_healthy(name, timeout=60)

    killed: dict[tuple[str, str], tuple[int, int]] = {}  # pid killed, processes of its role

    def kill_one(name: str, role: str) -> Callable[[], object]:
        def inject() -> None:
            count = sum(1 for r, _ in stack.processes(name) if r.startswith(role))
            killed[name, role] = (stack.kill_process(name, role), count)

        return inject

    def replaced(name: str, role: str) -> Callable[[], object]:
        def back() -> bool:
            pid, count = killed[name, role]
            pids = [p for r, p in stack.processes(name) if r.startswith(role)]
            return pid not in pids and len(pids) >= count

        return lambda: _wait(back, 60, f"{role} of {name}")

    def through(link: ProxyControl) -> Callable[[], object]:
        return lambda: _wait(lambda: _ok(link.url + "/health"), 60, "the link")

    def set_all(
        links: Sequence[ProxyControl], fault: Fault, **options: float
    ) -> Callable[[], None]:
        def apply() -> None:
            for link in links:
                link.set(fault, **options)

        return apply

    mids = list(stack.mid_links.values())
    lbs = list(stack.lb_links.values())
    steps = [
        Step(
            0,
            "SIGKILL execution instance 1",
            lambda: stack.kill("execution-1"),
            recovered=healthy("execution-1"),
        ),
        Step(
            0,
            "SIGKILL a processing process of execution instance 2",
            kill_one("execution-2", "processing"),
            recovered=replaced("execution-2", "processing"),
        ),
        Step(
            0,
            "partition execution instance 1 / mid-sourcing (cut)",
            lambda: stack.mid_links[1].set(Fault.CUT),
            lambda: stack.mid_links[1].set(Fault.PASS),
            hold,
            recovered=through(stack.mid_links[1]),
        ),
        Step(
            0,
            "SIGKILL mid-sourcing",
            lambda: stack.kill("midsourcing"),
            recovered=healthy("midsourcing"),
        ),
        Step(
            0,
            "SIGKILL a web process of execution instance 1",
            kill_one("execution-1", "web"),
            recovered=replaced("execution-1", "web"),
        ),
        Step(
            0,
            "hung mid-sourcing (proxy accepts, never answers)",
            set_all(mids, Fault.HANG),
            set_all(mids, Fault.PASS),
            hold,
            recovered=through(mids[0]),
        ),
        Step(
            0,
            "SIGKILL load balancer",
            lambda: stack.kill("load_balancer"),
            recovered=healthy("load_balancer"),
        ),
        Step(
            0,
            "SIGKILL a load balancer worker",
            kill_one("load_balancer", "worker"),
            recovered=replaced("load_balancer", "worker"),
        ),
        Step(
            0,
            "SIGKILL the load balancer's health checker",
            kill_one("load_balancer", "health"),
            recovered=replaced("load_balancer", "health"),
        ),
        Step(
            0,
            "SIGSTOP execution instance 2, then SIGCONT",
            lambda: stack.pause("execution-2"),
            lambda: stack.resume("execution-2"),
            hold,
            recovered=lambda: _wait(lambda: _backend_up(stack, 2), 60, "backend 2"),
        ),
        Step(
            0,
            "SIGKILL control instance",
            lambda: stack.kill("control"),
            recovered=healthy("control"),
        ),
        Step(
            0,
            "reset load balancer / execution instance 1 connections",
            lambda: stack.lb_links[1].set(Fault.RESET),
            lambda: stack.lb_links[1].set(Fault.PASS),
            1.0,
            recovered=lambda: _wait(lambda: _backend_up(stack, 1), 60, "backend 1"),
        ),
        Step(
            0,
            "SIGSTOP mid-sourcing, then SIGCONT",
            lambda: stack.pause("midsourcing"),
            lambda: stack.resume("midsourcing"),
            hold,
            recovered=healthy("midsourcing"),
        ),
        Step(
            0,
            "latency 300 ms load balancer / execution instances",
            set_all(lbs, Fault.LATENCY, latency_ms=300),
            set_all(lbs, Fault.PASS),
            hold,
        ),
        Step(
            0,
            "SIGTERM mid-sourcing (graceful restart)",
            lambda: stack.restart("midsourcing"),
            recovered=healthy("midsourcing"),
        ),
        Step(
            0,
            "latency 200 ms mid-sourcing / SMTP relay",
            lambda: stack.smtp_link.set(Fault.LATENCY, latency_ms=200),
            lambda: stack.smtp_link.set(Fault.PASS),
            hold,
        ),
        # Requests held past the clients' timeout are stored once the link flows again: a SOAP
        # client that retried them shows up as "not acknowledged but sent" (its answer was
        # lost), a REST client gets its first event back for its key.
        Step(
            0,
            "hung link load balancer / execution instance 2 (accepted, never answered)",
            lambda: stack.lb_links[2].set(Fault.HANG),
            lambda: stack.lb_links[2].set(Fault.PASS),
            3 * hold,  # past the clients' request timeout
            recovered=lambda: _wait(lambda: _backend_up(stack, 2), 60, "backend 2"),
        ),
        # Refused, not hung: a relay that took DATA and whose 250 is lost gets the message again
        # on the retry (SMTP's own at-least-once, RFC 1047). The cut also resets the connections
        # open at that moment, which can lose a 250 all the same: the audit counts a copy sent
        # again across a cut in its own window (relay_cuts), never as a duplicate.
        Step(
            0,
            "SMTP relay unreachable (cut)",
            lambda: _cut_relay(stack),
            lambda: _restore_relay(stack),
            hold,
        ),
    ]
    if database is not None:
        db_link = stack.db_link
        assert db_link is not None

        def all_answer() -> None:
            for k in stack.lb_links:
                _wait(lambda k=k: _ok(stack.exec_url(k) + "/nl/jsp/ping.jsp"), 90, "ping")

        steps.insert(
            3,
            Step(
                0,
                "restart PostgreSQL (pg_ctl restart -m fast)",
                database.restart,
                recovered=all_answer,
            ),
        )
        steps.insert(
            9,
            Step(
                0,
                "PostgreSQL unreachable (proxy cut)",
                lambda: db_link.set(Fault.CUT),
                lambda: db_link.set(Fault.PASS),
                hold,
                recovered=all_answer,
            ),
        )
    for number, step in enumerate(steps, start=1):
        step.at = number * every
    return steps
