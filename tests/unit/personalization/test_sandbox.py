"""The sandbox: runtime errors with lines, limits, no host access, one context per thread."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from services.personalization import (
    RenderLimits,
    TemplateEngine,
    TemplateRuntimeError,
    TemplateSyntaxError,
    compile_template,
)
from services.personalization.sandbox import Sandbox
from tests.unit.personalization.builders import make_event, unique_name
from tests.unit.personalization.conftest import Render

# The ECMAScript built-ins templates may use, and the helpers mcsim adds; nothing else.
EXPECTED_GLOBALS = {
    "AggregateError", "Array", "ArrayBuffer", "AsyncDisposableStack", "Atomics", "BigInt",
    "BigInt64Array", "BigUint64Array", "Boolean", "DataView", "Date", "DisposableStack", "Error",
    "EvalError", "FinalizationRegistry", "Float16Array", "Float32Array", "Float64Array",
    "Function", "Infinity", "Int16Array", "Int32Array", "Int8Array", "InternalError", "Iterator",
    "JSON", "Map", "Math", "NaN", "Number", "Object", "Promise", "Proxy", "RangeError",
    "ReferenceError", "Reflect", "RegExp", "Set", "SharedArrayBuffer", "String",
    "SuppressedError", "Symbol", "SyntaxError", "TypeError", "URIError", "Uint16Array",
    "Uint32Array", "Uint8Array", "Uint8ClampedArray", "WeakMap", "WeakRef", "WeakSet",
    "decodeURI", "decodeURIComponent", "encodeURI", "encodeURIComponent", "escape", "eval",
    "globalThis", "isFinite", "isNaN", "parseFloat", "parseInt", "undefined", "unescape",
    "escapeXMLString", "escapeXmlStr", "formatDate",
}  # fmt: skip


def render_error(
    engine: TemplateEngine, source: str, ctx: str | None = None
) -> TemplateRuntimeError:
    template = compile_template(source, name="failing", field="html")
    with pytest.raises(TemplateRuntimeError) as caught:
        engine.render(template, make_event(ctx))
    return caught.value


def test_runtime_error_names_the_template_line(engine: TemplateEngine) -> None:
    source = "line 1\n<% var order = null; %>\nline 3\nline 4\nTotal: <%= order.total %>\nline 6"

    error = render_error(engine, source)

    assert error.line == 5
    assert error.source_line == "Total: <%= order.total %>"
    assert error.field == "html"
    assert "TypeError: cannot read property 'total' of null" in error.reason
    assert error.message.startswith("Error in template 'failing', field 'html', line 5: ")
    assert error.limit is None


def test_error_in_a_template_function_names_the_line_inside_it(engine: TemplateEngine) -> None:
    source = "<%\nfunction price(item) {\n  return item.missing.value;\n}\n%>\n<%= price({}) %>"

    assert render_error(engine, source).line == 3


def test_throw_reports_the_value_and_line(engine: TemplateEngine) -> None:
    error = render_error(engine, "a\n<% throw new Error('no order id'); %>")
    assert (error.line, error.reason) == (2, "Error: no order id")

    thrown = render_error(engine, "<% if (!rtEvent.ctx.order.length()) throw 'missing order'; %>")
    assert thrown.reason == "uncaught exception: missing order"

    null = render_error(engine, "<% throw null; %>")
    assert (null.reason, null.limit) == ("uncaught exception: null", None)


def test_writing_into_the_event_is_refused(engine: TemplateEngine) -> None:
    error = render_error(engine, "x\n<% rtEvent.ctx.total = 5; %>")

    assert error.line == 2
    assert "read-only" in error.reason


def test_infinite_loop_is_stopped_and_the_engine_recovers() -> None:
    engine = TemplateEngine(RenderLimits(time_limit=0.1))
    ok = compile_template("Hi <%= rtEvent.ctx.firstName %>", name=unique_name())
    assert engine.render(ok, make_event("<ctx><firstName>Ann</firstName></ctx>")) == "Hi Ann"
    loop = compile_template("a\n<% while (true) { } %>", name="loop")

    started = time.monotonic()
    with pytest.raises(TemplateRuntimeError) as caught:
        engine.render(loop, make_event())
    elapsed = time.monotonic() - started

    assert caught.value.limit == "time"
    assert "time limit (100 ms)" in caught.value.reason
    assert caught.value.line is None  # QuickJS does not locate interrupts reliably
    assert elapsed < 5
    assert engine.render(ok, make_event("<ctx><firstName>Bob</firstName></ctx>")) == "Hi Bob"


def test_a_loop_that_catches_everything_is_still_stopped() -> None:
    engine = TemplateEngine(RenderLimits(time_limit=0.1))
    template = compile_template(
        "<% for (;;) { try { while (true) {} } catch (e) {} } %>", name=unique_name()
    )

    with pytest.raises(TemplateRuntimeError) as caught:
        engine.render(template, make_event())

    assert caught.value.limit == "time"


def test_unbounded_allocation_is_stopped_and_the_engine_recovers() -> None:
    engine = TemplateEngine(RenderLimits(memory_limit=8 * 1024 * 1024))
    hog = compile_template(
        "<% var chunks = []; while (true) { chunks.push('x'.repeat(1024) + chunks.length); } %>",
        name="hog",
    )
    ok = compile_template("<%= [1, 2, 3].join('-') %>", name=unique_name())

    with pytest.raises(TemplateRuntimeError) as caught:
        engine.render(hog, make_event())

    assert caught.value.limit == "memory"
    assert "memory limit (8 MiB)" in caught.value.reason
    assert engine.render(ok, make_event()) == "1-2-3"


def test_a_string_doubling_forever_is_stopped() -> None:
    engine = TemplateEngine(RenderLimits(memory_limit=8 * 1024 * 1024))
    template = compile_template("<% var s = 'ab'; while (true) { s = s + s; } %>", name="dbl")

    with pytest.raises(TemplateRuntimeError) as caught:
        engine.render(template, make_event())

    assert caught.value.limit == "memory"


def test_deep_recursion_is_stopped_and_the_engine_recovers(engine: TemplateEngine) -> None:
    source = "<%\nfunction down(n) {\n  return down(n + 1) + 1;\n}\n%><%= down(0) %>"

    error = render_error(engine, source)

    assert error.limit == "stack"
    assert error.line == 3
    ok = compile_template("<%= (function f(n) { return n ? n + f(n - 1) : 0; })(100) %>", name="ok")
    assert engine.render(ok, make_event()) == "5050"


def test_default_limits() -> None:
    limits = RenderLimits()

    assert (limits.time_limit, limits.memory_limit) == (0.2, 32 * 1024 * 1024)
    assert TemplateEngine().limits == limits


@pytest.mark.parametrize(
    "name",
    [
        "require", "process", "std", "os", "print", "console", "module", "exports", "fetch",
        "XMLHttpRequest", "setTimeout", "performance", "queueMicrotask", "__mc_setup",
        "Deno", "Bun", "scriptArgs",
    ],
)  # fmt: skip
def test_no_host_objects_are_reachable(render: Render, name: str) -> None:
    assert render(f"<%= typeof {name} %>") == "undefined"


def test_global_object_holds_only_the_built_ins_and_helpers(render: Render) -> None:
    source = (
        "<%= Object.getOwnPropertyNames(globalThis)"
        ".concat(Object.getOwnPropertyNames(Object.getPrototypeOf(globalThis)))"
        ".sort().join(',') %>"
    )

    assert set(render(source).split(",")) == EXPECTED_GLOBALS


def test_the_runtime_templates_see_is_frozen_and_holds_no_host_hooks(render: Render) -> None:
    source = "<%= Object.isFrozen(__mc) %>|<%= Object.keys(__mc).sort().join(',') %>"

    assert render(source) == "true|each,event,finish,mark,purge,rethrow,seal,str"


def test_long_outputs_come_back_whole(render: Render) -> None:
    source = "<% for (var i = 0; i < 5000; i++) { %><p>line <%= i %></p>\n<% } %>end"

    out = render(source)

    assert out.count("<p>line ") == 5000
    assert out.startswith("<p>line 0</p>\n<p>line 1</p>")
    assert out.endswith("<p>line 4999</p>\nend")


def test_dynamic_import_is_refused() -> None:
    sandbox = Sandbox(RenderLimits())
    template = compile_template(
        "<% import('os').then(function () { globalThis.imported = 'loaded'; },"
        " function (e) { globalThis.imported = String(e); }); %>done",
        name=unique_name(),
    )

    assert sandbox.render(template, make_event().payload) == "done"
    while sandbox.context.execute_pending_job():
        pass

    assert sandbox.context.eval("globalThis.imported") == (
        "ReferenceError: could not load module 'os'"
    )


def test_static_import_is_a_syntax_error() -> None:
    with pytest.raises(TemplateSyntaxError):
        compile_template("<% import os from 'os'; %>", name=unique_name())


def test_concurrent_renders_from_several_threads_are_correct(engine: TemplateEngine) -> None:
    template = compile_template(
        "<% var sum = 0; for each (var i in rtEvent.ctx.n) { sum += parseInt(i); } %>"
        "<%= rtEvent.externalId %>:<%= sum %>",
        name=unique_name(),
    )
    threads_used: set[int] = set()

    def work(worker: int) -> list[tuple[str, str]]:
        threads_used.add(threading.get_ident())
        results = []
        for round_ in range(150):
            numbers = [worker, round_, worker * round_]
            ctx = "<ctx>" + "".join(f"<n>{n}</n>" for n in numbers) + "</ctx>"
            event_id = f"w{worker}r{round_}"
            rendered = engine.render(template, make_event(ctx, externalId=event_id))
            results.append((rendered, f"{event_id}:{sum(numbers)}"))
        return results

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = [pair for batch in pool.map(work, range(8)) for pair in batch]

    assert len(outcomes) == 8 * 150
    assert all(rendered == expected for rendered, expected in outcomes)
    assert len(threads_used) > 1


def test_a_failing_render_in_one_thread_does_not_disturb_others() -> None:
    engine = TemplateEngine(RenderLimits(time_limit=0.1))
    loop = compile_template("<% while (true) {} %>", name="loop")
    ok = compile_template("<%= rtEvent.externalId %>", name=unique_name())
    stop = threading.Event()

    def loop_twice() -> list[str | None]:
        limits = []
        for _ in range(2):
            with pytest.raises(TemplateRuntimeError) as caught:
                engine.render(loop, make_event())
            limits.append(caught.value.limit)
        stop.set()
        return limits

    def keep_rendering() -> int:
        count = 0
        while not stop.is_set() or count < 50:
            assert engine.render(ok, make_event(externalId=str(count))) == str(count)
            count += 1
        return count

    with ThreadPoolExecutor(max_workers=2) as pool:
        failing = pool.submit(loop_twice)
        steady = pool.submit(keep_rendering)
        assert failing.result(timeout=30) == ["time", "time"]
        assert steady.result(timeout=30) >= 50


def test_a_nul_in_the_output_fails_the_render_instead_of_cutting_the_text(
    engine: TemplateEngine, render: Render
) -> None:
    # The host binding reads the output as a C string: "a\0b" came back as "a".
    error = render_error(engine, "before<%= String.fromCharCode(0) %>after")
    assert "NUL character" in error.message
    assert render("a<%= String.fromCharCode(1) %>b") == "a\x01b"  # other controls pass through
