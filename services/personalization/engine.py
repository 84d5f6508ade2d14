"""Render compiled templates in per-thread QuickJS sandboxes.

A :class:`TemplateEngine` is cheap to create and safe to share between threads: every thread
that renders gets its own :class:`~services.personalization.sandbox.Sandbox` (one QuickJS
context, with the compiled functions it has used, keyed by the hash of their JavaScript). A
render that hits a limit, or that changed its sandbox in a way that would outlive it (a
non-configurable global, the global object's prototype, a Promise job left queued…), throws its
sandbox away, so the next render starts clean.
"""

from __future__ import annotations

import re
import threading

import quickjs

from services.personalization.compiler import CompiledFields, CompiledTemplate
from services.personalization.errors import LimitKind, TemplateRuntimeError
from services.personalization.event import EventData
from services.personalization.sandbox import LastingChange, RenderLimits, Sandbox

__all__ = ["TemplateEngine", "default_engine", "render", "render_fields"]

# "    at name (<input>:12:5)": a frame of code the sandbox evaluated.
_FRAME = re.compile(r"^\s*at (?P<function>.*?) \(<input>:(?P<line>\d+):\d+\)\s*$")
_RUNTIME_PREFIX = "__mc"
_STACK_OVERFLOW = "Maximum call stack size exceeded"


class TemplateEngine:
    """Render compiled templates under limits, one sandbox per thread."""

    def __init__(self, limits: RenderLimits | None = None) -> None:
        self.limits = limits or RenderLimits()
        self._local = threading.local()

    def render(self, template: CompiledTemplate, event: EventData) -> str:
        """Render ``template`` for ``event``; raise TemplateRuntimeError when it fails."""
        sandbox = self._sandbox()
        text = self._render(sandbox, template, event)
        if sandbox.left_jobs():
            raise self._left_jobs(template.name, template.field)
        return text

    def render_fields(self, fields: CompiledFields, event: EventData) -> dict[str, str]:
        """Render every field of a template version for ``event``."""
        sandbox = self._sandbox()
        texts = {
            key: self._render(sandbox, template, event) for key, template in fields.fields.items()
        }
        # Once per message: nothing runs a job between the fields of one message.
        if sandbox.left_jobs():
            raise self._left_jobs(fields.name, None)
        return texts

    def _render(self, sandbox: Sandbox, template: CompiledTemplate, event: EventData) -> str:
        try:
            return sandbox.render(template, event.payload)
        except quickjs.JSException as exc:
            error = self._runtime_error(exc, template)
            # After a limit the runtime is not worth checking: it goes in any case.
            if error.limit is not None or sandbox.left_jobs():
                self._local.sandbox = None
            raise error from None
        except LastingChange as change:
            self._local.sandbox = None
            raise _lasting_error(change.reason, template.name, template.field) from None

    def _left_jobs(self, name: str, field: str | None) -> TemplateRuntimeError:
        self._local.sandbox = None
        reason = "the template left a Promise job queued (async code), which would outlive it"
        return _lasting_error(reason, name, field)

    def _sandbox(self) -> Sandbox:
        sandbox: Sandbox | None = getattr(self._local, "sandbox", None)
        if sandbox is None:
            sandbox = Sandbox(self.limits)
            self._local.sandbox = sandbox
        return sandbox

    def _runtime_error(
        self, exc: quickjs.JSException, template: CompiledTemplate
    ) -> TemplateRuntimeError:
        limits = self.limits
        text = str(exc)
        head, _, stack = text.partition("\n")
        # QuickJS places an interrupt at the start of the function, not in the loop: no line.
        interrupted = head == "InternalError: interrupted"
        line = None if interrupted else _template_line(stack, template)
        limit: LimitKind | None = None
        if isinstance(exc, quickjs.StackOverflow) or _STACK_OVERFLOW in head:
            limit = "stack"
            reason = (
                f"the JavaScript stack limit ({limits.stack_limit // 1024} KiB) was exceeded: "
                "unbounded recursion?"
            )
        elif interrupted:
            limit = "time"
            reason = f"the time limit ({limits.time_limit * 1000:g} ms) was exceeded: endless loop?"
        elif head in {"null", "InternalError: out of memory", "InternalError: string too long"}:
            limit = "memory"
            reason = f"the memory limit ({limits.memory_limit / 1048576:g} MiB) was exceeded"
        elif head.startswith("Thrown: "):
            reason = f"uncaught exception: {head.removeprefix('Thrown: ')}"
        else:
            reason = head
        return TemplateRuntimeError(
            reason,
            template=template.name,
            line=line,
            field=template.field,
            source_line=template.source_line(line),
            limit=limit,
        )


def _lasting_error(reason: str, name: str, field: str | None) -> TemplateRuntimeError:
    return TemplateRuntimeError(
        f"{reason}: templates may not change the sandbox for later renders",
        template=name,
        line=None,
        field=field,
    )


def _template_line(stack: str, template: CompiledTemplate) -> int | None:
    """Return the template line of the innermost frame that is template code, not runtime."""
    for frame in stack.splitlines():
        match = _FRAME.match(frame)
        if match is None:
            continue
        function = match.group("function")
        if function.startswith(_RUNTIME_PREFIX) or function == "<eval>":
            continue
        return template.template_line(int(match.group("line")))
    return None


class _DefaultEngine:
    """Holder of the engine used by the module-level helpers, built on first use."""

    lock = threading.Lock()
    engine: TemplateEngine | None = None


def default_engine() -> TemplateEngine:
    """Return the process-wide engine with default limits (created on first use)."""
    engine = _DefaultEngine.engine
    if engine is None:
        with _DefaultEngine.lock:
            if _DefaultEngine.engine is None:
                _DefaultEngine.engine = TemplateEngine()
            engine = _DefaultEngine.engine
    return engine


def render(template: CompiledTemplate, event: EventData) -> str:
    """Render ``template`` for ``event`` with the default engine."""
    return default_engine().render(template, event)


def render_fields(fields: CompiledFields, event: EventData) -> dict[str, str]:
    """Render every field of a template version with the default engine."""
    return default_engine().render_fields(fields, event)
