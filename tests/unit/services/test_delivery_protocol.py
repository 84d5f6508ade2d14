"""The delivery-part and delivery-log documents round-trip exactly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree

from services.delivery_protocol import (
    DeliveryLog,
    DeliveryMessage,
    DeliveryPart,
    FailureType,
    LogStatus,
    parse_delivery_logs,
    parse_delivery_part,
    render_delivery_logs,
    render_delivery_part,
)


def test_a_delivery_part_round_trips_with_hostile_content() -> None:
    part = DeliveryPart(
        id="exec1-abc",
        instance=1,
        queue="rt",
        messages=[
            DeliveryMessage(
                id="1-7",
                event_id=(1 << 56) | 7,
                event_type="PASSWORD_RESET",
                channel="email",
                to="ann@example.com",
                subject='Héllo <Ann> & "friends"',
                text="line 1\nline 2 ]]>",
                html="<p>Hi <b>Ann</b></p>",
                from_name="Acme",
                from_address="noreply@acme.test",
                reply_to="help@acme.test",
                template_version=3,
            ),
            DeliveryMessage(
                id="1-8",
                event_id=(1 << 56) | 8,
                event_type="X",
                channel="ios",
                to="tok",
                title="T",
                text="B",
                app="com.acme",
                data='{"a": 1}',
                proof=True,
            ),
        ],
    )
    wire = etree.tostring(render_delivery_part(part))
    assert parse_delivery_part(etree.fromstring(wire)) == part


@pytest.mark.parametrize(
    ("xml", "reason"),
    [
        ("<other/>", "expected <deliveryPart>"),
        ("<deliveryPart><message id='1' to='a' channel='email'/></deliveryPart>", "has no id"),
        ("<deliveryPart id='p'><message to='a' channel='email'/></deliveryPart>", "message 0"),
        ("<deliveryPart id='p'><message id='1' to='a' channel='fax'/></deliveryPart>", "channel"),
    ],
)
def test_malformed_parts_are_refused(xml: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_delivery_part(etree.fromstring(xml))


def test_delivery_logs_round_trip() -> None:
    logs = [
        DeliveryLog(
            seq=4,
            message_id="1-7",
            event_id=(1 << 56) | 7,
            status=LogStatus.FAILED,
            failure_type=FailureType.HARD,
            failure_reason=1,
            text="550 5.1.1 User unknown",
            at=datetime(2026, 11, 28, 10, 0, 0, 123000, tzinfo=UTC),
            tries=1,
        )
    ]
    assert parse_delivery_logs(etree.fromstring(etree.tostring(render_delivery_logs(logs)))) == logs
    assert LogStatus.FAILED.final
    assert not LogStatus.PENDING.final
