"""The editor's field picker reads the expressions a template can print from its seeds."""

from __future__ import annotations

from control_instance.templates.content import ChannelName
from control_instance.templates.fields import personalization_fields


def test_fields_come_from_the_event_then_every_seed_ctx_in_order() -> None:
    contexts = [
        '<ctx><firstName>Ann</firstName><order id="7"><item><name>Pen</name></item>'
        "<item><name>Ink</name></item></order></ctx>",
        "<ctx><firstName>Bob</firstName><coupon>X1</coupon></ctx>",
        "<ctx><broken></ctx>",  # a seed whose ctx does not parse offers nothing
        "<ctx/>",
    ]
    assert personalization_fields(ChannelName.EMAIL, contexts) == [
        "rtEvent.email",
        "rtEvent.externalId",
        "rtEvent.ctx.firstName",
        "rtEvent.ctx.order.@id",
        "rtEvent.ctx.order.item.name",
        "rtEvent.ctx.coupon",
    ]


def test_an_sms_template_offers_the_mobile_phone() -> None:
    fields = personalization_fields(ChannelName.SMS, ["<ctx><code>123</code></ctx>"])
    assert fields == ["rtEvent.mobilePhone", "rtEvent.externalId", "rtEvent.ctx.code"]
