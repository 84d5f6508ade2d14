"""Campaign-style personalization: compile templates once, render them in a JavaScript sandbox.

Templates use Campaign's syntax (DESIGN §4): ``<%= expression %>`` writes a value, unescaped as
in Campaign; ``<% statements %>`` runs JavaScript (``if``, ``for each``…). The event is
``rtEvent`` (and ``batchEvent``, the same object): its attributes read as ``rtEvent.email``, its
``<ctx>`` as E4X (``rtEvent.ctx.firstName``, ``rtEvent.ctx.order.@id``). Helpers:
``escapeXMLString``, ``formatDate`` and the JavaScript built-ins. See README.md in this folder.

Typical use::

    engine = TemplateEngine(RenderLimits(time_limit=0.2))      # once, in create_app
    fields = compile_fields({"subject": s, "html": h, "text": t}, name="reset v3")
    out = engine.render_fields(fields, EventData.from_element(event_element))
"""

from services.personalization.compiler import (
    CompiledFields,
    CompiledTemplate,
    compile_fields,
    compile_template,
)
from services.personalization.engine import TemplateEngine, default_engine, render, render_fields
from services.personalization.errors import LimitKind, TemplateRuntimeError, TemplateSyntaxError
from services.personalization.event import EventData
from services.personalization.sandbox import RenderLimits

__all__ = [
    "CompiledFields",
    "CompiledTemplate",
    "EventData",
    "LimitKind",
    "RenderLimits",
    "TemplateEngine",
    "TemplateRuntimeError",
    "TemplateSyntaxError",
    "compile_fields",
    "compile_template",
    "default_engine",
    "render",
    "render_fields",
]
