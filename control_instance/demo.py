"""The demo workspace of DESIGN §6.2 (``mcsim up --demo``), made through the ordinary use cases.

A technical account (``services.dev_credentials.IMS_CLIENT``) for the IMS token exchange.
Event types ``PASSWORD_RESET`` and ``ORDER_CONFIRMATION``; templates for email and SMS, and for
email, iOS and Android push; seed addresses for each; all published to every enabled execution
instance. Idempotent across restarts: what exists is kept, and only templates the demo just made
or that are Published are published (again: instances that have the version ignore it), so a demo
template an operator unpublished stays unpublished.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from control_instance.event_types.schemas import EventTypeCreate
from control_instance.event_types.service import create_event_type
from control_instance.ims.service import ensure_technical_account
from control_instance.state import ControlState
from control_instance.tables import EventType, Seed, Template
from control_instance.templates.content import ChannelName
from control_instance.templates.publishing import publish_template
from control_instance.templates.schemas import SeedCreate, TemplateCreate, TemplateState
from control_instance.templates.seeds import create_seed
from control_instance.templates.service import create_template
from services.dev_credentials import IMS_CLIENT
from services.settings import Environment

__all__ = ["DEMO_EVENT_TYPES", "DEMO_TEMPLATES", "DemoSetupError", "create_demo_workspace"]

log = logging.getLogger("mcsim.demo")

ACTOR = "demo"

DEMO_EVENT_TYPES = {
    "PASSWORD_RESET": "Password reset",
    "ORDER_CONFIRMATION": "Order confirmation",
}


class DemoSetupError(RuntimeError):
    """The demo workspace cannot be created (an instance is unreachable or refuses us)."""


@dataclass(frozen=True)
class DemoSeed:
    """A seed address of a demo template."""

    label: str
    address: str
    ctx: str


@dataclass(frozen=True)
class DemoTemplate:
    """One template of the demo workspace."""

    event_type: str
    channel: ChannelName
    label: str
    content: dict[str, str]
    seeds: tuple[DemoSeed, ...]

    @property
    def name(self) -> str:
        """Return the template's internal name."""
        return f"{self.event_type}_{self.channel.value}"


_RESET_CTX = (
    "<ctx><firstName>Ann</firstName>"
    "<resetUrl>https://shop.acme.test/reset?token=demo-4f2a</resetUrl></ctx>"
)
_ORDER_CTX = (
    "<ctx><firstName>Ann</firstName><orderId>A-1042</orderId><total>59.97</total>"
    '<item name="Blue mug" qty="2" price="12.99"/>'
    '<item name="Tea sampler" qty="1" price="33.99"/></ctx>'
)
_SENDER = {
    "from_name": "Acme Shop",
    "from_address": "no-reply@acme.test",
    "reply_to": "support@acme.test",
}

DEMO_TEMPLATES = (
    DemoTemplate(
        event_type="PASSWORD_RESET",
        channel=ChannelName.EMAIL,
        label="Password reset (email)",
        content={
            **_SENDER,
            "subject": "Reset your password, <%= rtEvent.ctx.firstName %>",
            "html": "<p>Hello <%= escapeXMLString(rtEvent.ctx.firstName) %>,</p>\n"
            '<p><a href="<%= rtEvent.ctx.resetUrl %>">Choose a new password</a>. '
            "The link works for one hour.</p>\n<p>The Acme team</p>",
            "text": "Hello <%= rtEvent.ctx.firstName %>,\n\nChoose a new password: "
            "<%= rtEvent.ctx.resetUrl %>\nThe link works for one hour.\n\nThe Acme team",
        },
        seeds=(DemoSeed("Ann (QA)", "ann@example.com", _RESET_CTX),),
    ),
    DemoTemplate(
        event_type="PASSWORD_RESET",
        channel=ChannelName.SMS,
        label="Password reset (SMS)",
        content={
            "text": "Acme: hi <%= rtEvent.ctx.firstName %>, reset your password at "
            "<%= rtEvent.ctx.resetUrl %>",
        },
        seeds=(DemoSeed("Ann (QA phone)", "+447700900123", _RESET_CTX),),
    ),
    DemoTemplate(
        event_type="ORDER_CONFIRMATION",
        channel=ChannelName.EMAIL,
        label="Order confirmation (email)",
        content={
            **_SENDER,
            "subject": "Your order <%= rtEvent.ctx.orderId %> is confirmed",
            "html": "<p>Thank you, <%= escapeXMLString(rtEvent.ctx.firstName) %>!</p>\n"
            "<table>\n<tr><th>Item</th><th>Qty</th><th>Price</th></tr>\n"
            "<% for each (var item in rtEvent.ctx.item) { %>"
            "<tr><td><%= escapeXMLString(item.@name) %></td><td><%= item.@qty %></td>"
            "<td><%= item.@price %></td></tr>\n<% } %></table>\n"
            "<p>Total: <%= rtEvent.ctx.total %></p>",
            "text": "Thank you, <%= rtEvent.ctx.firstName %>!\n\n"
            "<% for each (var item in rtEvent.ctx.item) { %>"
            "- <%= item.@name %> x <%= item.@qty %>: <%= item.@price %>\n<% } %>"
            "\nTotal: <%= rtEvent.ctx.total %>",
        },
        seeds=(DemoSeed("Ann (QA)", "ann@example.com", _ORDER_CTX),),
    ),
    DemoTemplate(
        event_type="ORDER_CONFIRMATION",
        channel=ChannelName.IOS,
        label="Order confirmation (iOS push)",
        content={
            "title": "Order <%= rtEvent.ctx.orderId %> confirmed",
            "body": "Thanks <%= rtEvent.ctx.firstName %>! Total: <%= rtEvent.ctx.total %>",
            "data": '{"orderId": "<%= rtEvent.ctx.orderId %>", "screen": "order"}',
        },
        seeds=(DemoSeed("Ann's iPhone", "demo-ios-device-token-0001", _ORDER_CTX),),
    ),
    DemoTemplate(
        event_type="ORDER_CONFIRMATION",
        channel=ChannelName.ANDROID,
        label="Order confirmation (Android push)",
        content={
            "title": "Order <%= rtEvent.ctx.orderId %> confirmed",
            "body": "Thanks <%= rtEvent.ctx.firstName %>! Total: <%= rtEvent.ctx.total %>",
            "data": '{"orderId": "<%= rtEvent.ctx.orderId %>", "screen": "order"}',
        },
        seeds=(DemoSeed("Ann's Pixel", "demo-android-registration-id-0001", _ORDER_CTX),),
    ),
)


def _existing(state: ControlState) -> tuple[set[str], dict[str, tuple[int, str, bool]]]:
    with state.db.transaction() as session:
        types = set(session.execute(select(EventType.name)).scalars())
        templates = {}
        for row in session.execute(select(Template)).scalars():
            has_seeds = session.execute(
                select(Seed.id).where(Seed.template_id == row.id).limit(1)
            ).first()
            templates[row.name] = (row.id, row.state, has_seeds is not None)
    return types, templates


async def _publish(state: ControlState, template_id: int, name: str, attempts: int) -> None:
    for attempt in range(1, attempts + 1):
        result = await publish_template(state=state, template_id=template_id, actor=ACTOR)
        failed = [outcome for outcome in result.instances if not outcome.ok]
        if not failed:
            return
        refused = [outcome for outcome in failed if outcome.status is not None]
        if refused or attempt == attempts:
            first = (refused or failed)[0]
            raise DemoSetupError(
                f"{first.url} refused to publish {name}: {first.error}"
                " - check MCSIM_CONTROL_EXECUTION_LOGIN and _EXECUTION_PASSWORD"
                if refused
                else f"cannot reach {first.url} to publish {name}: {first.error}"
            )
        await asyncio.sleep(0.5)  # an instance is still starting


def _demo_technical_account(state: ControlState) -> None:
    """Create the demo's technical account, with the development client id and secret."""
    if state.settings.environment is Environment.PRODUCTION:
        return  # its secret is public: never in production
    client_id, client_secret = IMS_CLIENT
    ensure_technical_account(
        db=state.db,
        name="Demo integration",
        client_id=client_id,
        client_secret=client_secret,
        campaign_instance=state.settings.campaign_instance,
    )


async def create_demo_workspace(*, state: ControlState, attempts: int = 20) -> None:
    """Create (or complete) the demo workspace and publish it everywhere."""
    await run_in_threadpool(_demo_technical_account, state)
    types, templates = await run_in_threadpool(_existing, state)
    for name, label in DEMO_EVENT_TYPES.items():
        if name not in types:
            await create_event_type(state=state, new=EventTypeCreate(name=name, label=label))
    for spec in DEMO_TEMPLATES:
        found = templates.get(spec.name)
        if found is None:
            created = await run_in_threadpool(
                lambda spec=spec: create_template(  # type: ignore[misc]
                    db=state.db,
                    new=TemplateCreate(
                        event_type=spec.event_type,
                        channel=spec.channel,
                        name=spec.name,
                        label=spec.label,
                        content=spec.content,
                    ),
                    actor=ACTOR,
                )
            )
            found = (created.id, created.state.value, False)
        template_id, template_state, has_seeds = found
        if not has_seeds:
            for seed in spec.seeds:
                await run_in_threadpool(
                    lambda seed=seed, template_id=template_id: create_seed(  # type: ignore[misc]
                        db=state.db,
                        template_id=template_id,
                        new=SeedCreate(label=seed.label, address=seed.address, ctx=seed.ctx),
                    )
                )
        fresh = spec.name not in templates
        if fresh or template_state != TemplateState.BEING_EDITED.value:
            await _publish(state, template_id, spec.name, attempts)
    log.info("demo workspace ready", extra={"templates": len(DEMO_TEMPLATES)})
