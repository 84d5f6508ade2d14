"""One QuickJS context with the personalization runtime, used by one thread only.

A QuickJS runtime must never be entered from two threads (its stack-overflow guard is bound to
the thread that created it), so the engine gives every thread its own sandbox. The sandbox has
no host access: no module loader, no file or network API and no Python callable; it only gets
data (event payloads, time zone tables) passed in by the host.

One sandbox serves many renders, of many templates and many people's events, so no render may
change what the next one sees. The runtime freezes every object templates can reach before the
first render and checks the global object after each one (runtime.js, "Lockdown"); what it
cannot see, a Promise job left queued, the host checks with :meth:`Sandbox.left_jobs`. A render
that made a lasting change fails, and the engine throws its sandbox away.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import quickjs

from services.personalization.compiler import CompiledTemplate
from services.personalization.errors import TemplateRuntimeError
from services.personalization.zones import zone_table

__all__ = ["LastingChange", "RenderLimits", "Sandbox"]

# A render asks for time zones at most this many times before giving up.
_ZONE_ROUNDS = 3
# The name of the error the runtime's purge throws when a render changed the sandbox for good.
_LASTING = "LastingChange: "


class LastingChange(Exception):
    """A render changed its sandbox in a way that would reach later renders; discard it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RenderLimits:
    """Limits every render runs under; a template that exceeds one fails on its own."""

    #: CPU time of one render, in seconds (QuickJS measures it with the C clock()).
    time_limit: float = 0.2
    #: Memory of one sandbox (runtime, compiled templates and the render), in bytes.
    memory_limit: int = 32 * 1024 * 1024
    #: JavaScript stack of one render, in bytes.
    stack_limit: int = 256 * 1024
    #: Compiled templates kept per sandbox (least recently compiled dropped first).
    cache_size: int = 256


class Sandbox:
    """A QuickJS context holding the runtime and the compiled templates used on one thread."""

    def __init__(self, limits: RenderLimits) -> None:
        self._limits = limits
        self.context = quickjs.Context()
        self.context.set_memory_limit(limits.memory_limit)
        self.context.set_time_limit(limits.time_limit)
        self.context.set_max_stack_size(limits.stack_limit)
        host = self.context.eval(_runtime_source())()
        member = self.context.eval("(function __mc_member(object, name) { return object[name]; })")
        self._runtime = member(host, "runtime")
        self._add_zone = member(host, "addZone")
        self._functions: OrderedDict[str, Any] = OrderedDict()

    def render(self, template: CompiledTemplate, payload: str) -> str:
        """Run ``template`` on the event payload and return its text.

        Raise quickjs.JSException when the template fails, LastingChange when it changed the
        sandbox beyond its render. Check :meth:`left_jobs` before another template renders.
        """
        try:
            function = self._functions.get(template.key)
            if function is None:
                function = self._compile(template)
            result = function(payload)
            rounds = 1
            while not isinstance(result, str):
                # The template used time zones this sandbox has not loaded yet: load, render again.
                if rounds == _ZONE_ROUNDS:
                    raise TemplateRuntimeError(
                        "formatDate asked for other time zones on every attempt",
                        template=template.name,
                        line=None,
                        field=template.field,
                    )
                for name in json.loads(result.json()):
                    self._add_zone(name, zone_table(name))
                result = function(payload)
                rounds += 1
        except quickjs.JSException as exc:
            head = str(exc).partition("\n")[0]
            if head.startswith(_LASTING):
                raise LastingChange(head.removeprefix(_LASTING)) from None
            raise
        return result

    def left_jobs(self) -> bool:
        """Return whether a render left a Promise job queued (the sandbox is then spoilt).

        Nothing ever runs a sandbox's jobs, so a job is only found by running it: it runs under
        the time limit, in a sandbox the caller must then throw away.
        """
        try:
            ran: bool = self.context.execute_pending_job()
        except quickjs.JSException:
            return True
        return ran

    def _compile(self, template: CompiledTemplate) -> Any:
        function = self.context.eval(template.javascript)(self._runtime)
        self._functions[template.key] = function
        while len(self._functions) > self._limits.cache_size:
            self._functions.popitem(last=False)
        return function


@cache
def _runtime_source() -> str:
    return resources.files(__package__).joinpath("runtime.js").read_text(encoding="utf-8")
