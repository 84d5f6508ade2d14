"""One QuickJS context with the personalization runtime, used by one thread only.

A QuickJS runtime must never be entered from two threads (its stack-overflow guard is bound to
the thread that created it), so the engine gives every thread its own sandbox. The sandbox has
no host access: no module loader, no file or network API, and only one Python callable (time
zone offsets for ``formatDate``), which the runtime captures and removes from the global object.
"""

from __future__ import annotations

import datetime
import math
import zoneinfo
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import quickjs

from services.personalization.compiler import CompiledTemplate

__all__ = ["RenderLimits", "Sandbox"]

_TZ_CALLABLE = "__mc_tz_offset"


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
        self.context.add_callable(_TZ_CALLABLE, _tz_offset_minutes)
        self._runtime = self.context.eval(f"{_runtime_source()}({_TZ_CALLABLE})")
        self._functions: OrderedDict[str, Any] = OrderedDict()

    def render(self, template: CompiledTemplate, payload: str) -> object:
        """Run ``template`` on the event payload and return what it produced."""
        function = self._functions.get(template.key)
        if function is None:
            function = self._compile(template)
        return function(payload)

    def _compile(self, template: CompiledTemplate) -> Any:
        function = self.context.eval(template.javascript)(self._runtime)
        self._functions[template.key] = function
        while len(self._functions) > self._limits.cache_size:
            self._functions.popitem(last=False)
        return function


@cache
def _runtime_source() -> str:
    return resources.files(__package__).joinpath("runtime.js").read_text(encoding="utf-8")


def _tz_offset_minutes(name: object, epoch_ms: object) -> float | None:
    """Return the UTC offset of time zone ``name`` at ``epoch_ms``, in minutes, or None."""
    # Called from JavaScript: it must never raise (the binding cannot carry the exception).
    try:
        if not isinstance(name, str) or not isinstance(epoch_ms, (int, float)):
            return None
        if not math.isfinite(epoch_ms):
            return None
        instant = datetime.datetime.fromtimestamp(epoch_ms / 1000, tz=datetime.UTC)
        offset = instant.astimezone(zoneinfo.ZoneInfo(name)).utcoffset()
        return None if offset is None else offset.total_seconds() / 60
    except Exception:  # any bad name or date means "unknown time zone" to the template
        return None
