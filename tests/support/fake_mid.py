"""A stand-in for the mid-sourcing server at the transport level, for execution-instance tests.

It answers ``AppendDeliveryPart`` and ``GetDeliveryLogs`` as the real one does (idempotent on
message ids) and lets a test decide outcomes, or make it unreachable. System tests use the real
mid-sourcing server instead.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx

from services.delivery_protocol import (
    DeliveryLog,
    DeliveryMessage,
    FailureType,
    LogStatus,
    parse_delivery_part,
    render_delivery_logs,
)
from services.errors import UpstreamUnavailable
from services.soap.envelope import Output, read_call, render_fault, render_response


class FakeMid:
    """Records delivery parts; reports the delivery logs a test adds."""

    def __init__(self) -> None:
        self.messages: dict[str, DeliveryMessage] = {}
        self.received: Counter[str] = Counter()  # every hand-over of every message id
        self.parts: list[str] = []
        self.calls = 0
        self.down = False
        self.fatal: str | None = None
        self.logs: list[DeliveryLog] = []
        self.auto_sent = False
        self.clock_offset = 0.0  # the virtual clock the control instance set (seconds)

    def transport(self) -> httpx.MockTransport:
        """Return the transport to give the execution instance's HTTP client."""
        return httpx.MockTransport(self.handle)

    def report(
        self,
        message_id: str,
        status: LogStatus,
        *,
        reason: int = 0,
        failure: FailureType = FailureType.NONE,
        text: str = "",
    ) -> None:
        """Add a delivery log for a message the fake received."""
        message = self.messages[message_id]
        self.logs.append(
            DeliveryLog(
                seq=len(self.logs) + 1,
                message_id=message_id,
                event_id=message.event_id,
                status=status,
                failure_type=failure,
                failure_reason=reason,
                text=text,
                at=datetime.now(UTC),
            )
        )

    def _clock(self) -> dict[str, object]:
        real = datetime.now(UTC)
        return {
            "now": (real + timedelta(seconds=self.clock_offset)).isoformat(),
            "realNow": real.isoformat(),
            "offsetSeconds": self.clock_offset,
            "moved": self.clock_offset > 0,
        }

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one SOAP call (or the mailbox's search, which finds nothing)."""
        self.calls += 1
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if request.method == "GET" and request.url.path == "/api/v1/messages":
            # The console's event page asks the mailbox what it captured: nothing, here.
            return httpx.Response(200, json={"total": 0, "offset": 0, "limit": 20, "messages": []})
        if request.method == "POST" and request.url.path == "/api/v1/reset":
            forgotten = len(self.messages)
            self.messages.clear()
            self.logs.clear()
            return httpx.Response(200, json={"messages": forgotten, "deliveryLogs": 0})
        if request.url.path == "/api/v1/clock":
            if request.method == "POST":
                self.clock_offset = float(json.loads(request.content)["offsetSeconds"])
            return httpx.Response(200, json=self._clock())
        call = read_call(request.content, soap_action=request.headers.get("soapaction"))
        if call.method == "AppendDeliveryPart":
            if self.fatal is not None:
                reply = render_response(
                    call.service,
                    call.method,
                    [
                        Output.long("deliveryPartId", 0),
                        Output.integer("fatalError", 1),
                        Output.string("fatalErrorMsg", self.fatal),
                    ],
                )
                return httpx.Response(200, content=reply.body)
            document = call.document(1)
            assert document is not None
            part = parse_delivery_part(document)
            self.parts.append(part.id)
            for message in part.messages:
                self.received[message.id] += 1
                if message.id not in self.messages:
                    self.messages[message.id] = message
                    if self.auto_sent:
                        self.report(message.id, LogStatus.SENT, text="250 OK")
            reply = render_response(
                call.service,
                call.method,
                [
                    Output.long("deliveryPartId", len(self.parts)),
                    Output.integer("fatalError", 0),
                    Output.string("fatalErrorMsg", ""),
                ],
            )
            return httpx.Response(200, content=reply.body)
        if call.method == "GetDeliveryLogs":
            cursor = int(call.text(1) or 0)
            limit = int(call.text(2) or 100)
            instance = int(call.text(3) or 0)
            page = [log for log in self.logs if log.seq > cursor][:limit]
            mine = [log for log in page if log.event_id >> 56 == instance]
            next_cursor = str(page[-1].seq) if page else str(cursor)
            reply = render_response(
                call.service,
                call.method,
                [
                    Output.xml("deliveryLogs", render_delivery_logs(mine)),
                    Output.string("nextCursor", next_cursor),
                ],
            )
            return httpx.Response(200, content=reply.body)
        fault = render_fault(UpstreamUnavailable(f"unexpected {call.action}"))
        return httpx.Response(500, content=fault.body)

    def message_for(self, event_pk: int, instance: int = 1) -> DeliveryMessage:
        """Return the message the fake received for an event."""
        event_id = (instance << 56) | event_pk
        (message,) = [m for m in self.messages.values() if m.event_id == event_id]
        return message

    def ids_of(self, *event_pks: int, instance: int = 1) -> list[str]:
        """Return the message ids of events, in that order."""
        return [self.message_for(pk, instance).id for pk in event_pks]
