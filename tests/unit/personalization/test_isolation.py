"""Isolation between renders (security review F6): no render can change what a later one sees.

One sandbox serves every render of its thread; the runtime freezes every object templates can
reach, and a render that makes a change freezing cannot stop (the global object, Promise jobs,
FinalizationRegistry callbacks) fails and its sandbox is replaced.
"""

from __future__ import annotations

import contextlib
import json
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.personalization import (
    CompiledFields,
    CompiledTemplate,
    EventData,
    TemplateEngine,
    TemplateRuntimeError,
    compile_template,
)
from tests.unit.personalization.builders import make_event, unique_name

SECRET_CTX = (
    "<ctx><firstName>Zed</firstName>"
    "<resetUrl>https://acme.test/reset?token=ADMIN-SECRET-123</resetUrl>"
    '<item name="Blue mug" qty="2"/><item name="Tea" qty="1"/></ctx>'
)
RESET_HTML = (
    "<p>Hello <%= escapeXMLString(rtEvent.ctx.firstName) %>,</p>\n"
    '<p><a href="<%= rtEvent.ctx.resetUrl %>">Choose a new password</a>.</p>\n'
    "<p>The Acme team</p>"
)

# A template that uses a broad part of the language and library, as victims do.
VICTIM = "\n".join(
    [
        "<% var items = []; for each (var item in rtEvent.ctx.item) {"
        ' items.push(item.@name + "x" + item.@qty); } %>',
        "Hello <%= escapeXMLString(rtEvent.ctx.firstName) %>"
        " <%= rtEvent.ctx.firstName.toUpperCase() %>",
        '<%= items.join(", ") %> <%= JSON.stringify({a: [1, 2], b: "c"}) %>'
        " <%= rtEvent.ctx.resetUrl %>",
        "<%= [3, 1, 2].sort().map(function (n) { return n * 2; }).filter(Boolean)"
        ".reduce(function (a, b) { return a + b; }, 0) %>",
        '<%= "a-b-c".split("-").reverse().join("+") %>'
        ' <%= " Mixed Case ".toLowerCase().replace(/case/, "CASE").slice(0, 8).trim() %>',
        '<%= (1234.5678).toFixed(2) %> <%= Math.max(1, 5, 3) %> <%= parseInt("42", 10) + 0.5 %>',
        '<%= formatDate("2026-03-04 05:06:07", "%4Y/%2M/%2D %2H:%2N %Al") %>'
        " <%= new Date(Date.UTC(2026, 0, 2)).toISOString() %>",
        '<% var seen = []; for (var ch of "hé") seen.push(ch);'
        ' var m = new Map([["k", 1]]); m.forEach(function (v, k) { seen.push(k + v); });'
        " for (var e of new Set([1, 2])) seen.push(e);"
        ' for (var hit of "a1b2".matchAll(/\\d/g)) seen.push(hit[0]);'
        " function* gen() { yield 7; } for (var g of gen()) seen.push(g);"
        " seen.push([10, 20].values().map(function (x) { return x + 1; }).toArray().join()); %>",
        '<%= seen.join("") %> <%= [...[1, 2]].concat(Array.from("xy")).join() %>'
        " <%= Object.keys({p: 1, q: 2}).join() %> <%= String(new RangeError('boom')) %>",
        '<%= encodeURIComponent("a b&c") %> <%= [1, [2, [3]]].flat(2).length %>'
        ' <%= "abc".at(-1) %> <%= "x".padStart(3, "-") %> <%= Number("7") + 1 %>',
        "<%= ({}).toString() %> <%= [1, 2] %> <%= new RegExp('b+').test('abbc') %>"
        " <%= Object.entries({z: 1}).join() %> <%= new Uint8Array([1, 2]).join() %>",
        "<%= (function () { try { null.x; } catch (e) { return e.name + ':' + e.message; } })() %>",
        "<%= rtEvent.ctx.item.length() %> <%= rtEvent.ctx.item[1].@name %>"
        " <%= rtEvent.ctx.toXMLString().length %> <%= rtEvent.ctx.firstName.text() %>",
        "<%= typeof String.prototype.slice %> <%= Symbol.iterator.toString() %>",
    ]
)

# Intrinsics no global leads to, as templates can reach them.
HIDDEN = {
    "%ArrayIteratorPrototype%": "Object.getPrototypeOf([][Symbol.iterator]())",
    "%StringIteratorPrototype%": 'Object.getPrototypeOf(""[Symbol.iterator]())',
    "%MapIteratorPrototype%": "Object.getPrototypeOf(new Map().entries())",
    "%SetIteratorPrototype%": "Object.getPrototypeOf(new Set().values())",
    "%RegExpStringIteratorPrototype%": 'Object.getPrototypeOf("a".matchAll(/a/g))',
    "%IteratorHelperPrototype%": "Object.getPrototypeOf([].values().map(String))",
    "%WrapForValidIteratorPrototype%": "Object.getPrototypeOf(Iterator.from({next() {}}))",
    "%GeneratorFunction.prototype%": "Object.getPrototypeOf(function* () {})",
    "%GeneratorPrototype%": "Object.getPrototypeOf(function* () {}).prototype",
    "%AsyncFunction.prototype%": "Object.getPrototypeOf(async function () {})",
    "%AsyncGeneratorPrototype%": "Object.getPrototypeOf(async function* () {}).prototype",
    "%AsyncIteratorPrototype%": (
        "Object.getPrototypeOf(Object.getPrototypeOf(async function* () {}).prototype)"
    ),
    "%TypedArray%": "Object.getPrototypeOf(Int8Array)",
    "%TypedArray.prototype%": "Object.getPrototypeOf(Int8Array.prototype)",
    "%ThrowTypeError%": 'Object.getOwnPropertyDescriptor(Function.prototype, "caller").get',
    "E4X method": "rtEvent.ctx.toString",
    "E4X String method": "rtEvent.ctx.firstName.toUpperCase",
    "view iterator": "rtEvent[Symbol.iterator]",
    "global object's prototype": "Object.getPrototypeOf(globalThis)",
    "runtime": "__mc",
    "runtime function": "__mc.str",
    "helper": "escapeXMLString",
    "this template": "arguments.callee",
}

# What an attack template does to OBJ[KEY] (OBJ and KEY are JavaScript expressions).
ATTACKS = {
    "replace": 'OBJ[KEY] = function () { return "PWNED"; };',
    "replace value": 'OBJ[KEY] = "PWNED";',
    "delete": "delete OBJ[KEY];",
    "define": (
        'Object.defineProperty(OBJ, KEY, {value: function () { return "PWNED"; },'
        " configurable: true, writable: true});"
    ),
    "getter": (
        'Object.defineProperty(OBJ, KEY, {get: function () { return "PWNED"; },'
        " configurable: true});"
    ),
    "prototype": "Object.setPrototypeOf(OBJ, null);",
    "freeze": "Object.freeze(OBJ[KEY]);",
    "tag": 'OBJ[KEY].pwned = "PWNED"; OBJ[KEY].prototype.pwned = "PWNED";',
    "add": 'OBJ.pwnedKey = "PWNED"; Object.defineProperty(OBJ, "pwnedToo", {value: 1});',
}


def _victim_event() -> EventData:
    return make_event(SECRET_CTX)


@cache
def _victim_template() -> CompiledTemplate:
    return compile_template(VICTIM, name="victim", field="html")


@cache
def _expected_victim() -> str:
    return TemplateEngine().render(_victim_template(), _victim_event())


@cache
def _targets() -> tuple[tuple[str, str], ...]:
    """Return (object expression, key expression) of every built-in property templates reach."""
    hidden = json.dumps(HIDDEN)
    source = (
        "<% var out = [], roots = [];"
        " Object.getOwnPropertyNames(Object.getPrototypeOf(globalThis)).forEach(function (n) {"
        " var v = globalThis[n]; if (v !== globalThis && (typeof v === 'function'"
        " || (typeof v === 'object' && v !== null))) { roots.push(n);"
        " if (typeof v === 'function' && v.prototype) roots.push(n + '.prototype'); } });"
        f" var hidden = {hidden};"
        " for (var h in hidden) roots.push(hidden[h]);"
        " roots.forEach(function (r) { var o = eval(r);"
        " Reflect.ownKeys(o).forEach(function (k) {"
        " out.push([r, typeof k === 'symbol'"
        " ? k.description : JSON.stringify(k)]); }); }); %><%= JSON.stringify(out) %>"
    )
    text = TemplateEngine().render(compile_template(source, name="targets"), make_event())
    return tuple((obj, key) for obj, key in json.loads(text))


def _attack_source(attack: str, obj: str, key: str) -> str:
    statement = ATTACKS[attack].replace("OBJ", f"({obj})").replace("KEY", key)
    return f"<% try {{ {statement} }} catch (e) {{}} %>attacked"


def _attack_then_victim(engine: TemplateEngine, source: str) -> None:
    attack = compile_template(source, name=unique_name("attack"))
    with contextlib.suppress(TemplateRuntimeError):  # a refused change is as good as ignored
        engine.render(attack, make_event("<ctx><firstName>Eve</firstName></ctx>"))
    rendered = engine.render(_victim_template(), _victim_event())
    assert rendered == _expected_victim(), source


def test_the_review_attack_neither_alters_nor_reads_other_renders() -> None:
    engine = TemplateEngine()
    poison = compile_template(
        "<% if (!String.prototype.__mcleak) { var __orig = String.prototype.slice; var __log = [];"
        " Object.defineProperty(String.prototype, '__mcleak', {value: __log});"
        " String.prototype.slice = function (a, b) { var s = __orig.call(this, a, b);"
        " if (a === 0 && b === undefined && s.indexOf('[PWNED') < 0) {"
        " if (__log.length < 50) __log.push(__orig.call(s, 0, 300));"
        " return s + ' [PWNED by viewer]'; } return s; }; } %>poison-ok",
        name="poison",
        field="html",
    )
    # The same without defineProperty, which now throws: only the silent replacement.
    quiet = compile_template(
        "<% var __orig = String.prototype.slice;"
        " String.prototype.slice = function () { return 'PWNED'; }; %>quiet-ok",
        name="quiet",
    )
    victim = compile_template(RESET_HTML, name="PASSWORD_RESET_email", field="html")
    reader = compile_template(
        "<%= String(''.__mcleak) %>|<%= typeof String.prototype.__mcleak %>", name="reader"
    )
    expected = TemplateEngine().render(victim, _victim_event())

    with pytest.raises(TemplateRuntimeError, match="not extensible"):
        engine.render(poison, make_event())
    assert engine.render(quiet, make_event()) == "quiet-ok"
    outputs = [engine.render(victim, _victim_event()) for _ in range(5)]
    read = engine.render(reader, make_event())

    assert outputs == [expected] * 5
    assert "ADMIN-SECRET-123" in expected
    assert read == "undefined|undefined"


def test_poison_on_many_threads_never_reaches_a_victim() -> None:
    engine = TemplateEngine()
    poison = compile_template(
        "<% try { String.prototype.slice = function () { return 'PWNED'; }; } catch (e) {}"
        " Object.defineProperty(globalThis, 'escapeXMLString', {value: String}); %>p",
        name="poison",
    )

    def work(worker: int) -> list[str]:
        texts = []
        for _ in range(20):
            with contextlib.suppress(TemplateRuntimeError):
                engine.render(poison, make_event())
            texts.append(engine.render(_victim_template(), _victim_event()))
        return texts

    with ThreadPoolExecutor(max_workers=4) as pool:
        texts = [text for batch in pool.map(work, range(8)) for text in batch]

    assert texts == [_expected_victim()] * 160


def test_every_built_in_replaced_leaves_the_victim_byte_identical() -> None:
    engine = TemplateEngine()
    targets = _targets()
    assert len(targets) > 900  # the globals, their prototypes and the hidden intrinsics
    statements = [
        ATTACKS["replace"].replace("OBJ", f"({obj})").replace("KEY", _key(key))
        for obj, key in targets
    ]
    # All replacements at once, each in its own try, then the victim.
    source = "<% " + " ".join(f"try {{ {s} }} catch (e) {{}}" for s in statements) + " %>done"
    _attack_then_victim(engine, source)


def _key(key: str) -> str:
    """Return the JavaScript expression of a key from _targets: a JSON string or Symbol.x."""
    return key


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_attack_on_a_built_in_changes_a_later_render(data: st.DataObject) -> None:
    obj, key = data.draw(st.sampled_from(_targets()), label="target")
    attack = data.draw(st.sampled_from(sorted(ATTACKS)), label="attack")
    engine = TemplateEngine()
    engine.render(_victim_template(), _victim_event())  # warm the sandbox

    _attack_then_victim(engine, _attack_source(attack, obj, _key(key)))


@pytest.mark.parametrize("name", sorted(HIDDEN))
@pytest.mark.parametrize("attack", ["replace", "tag", "add", "prototype"])
def test_hidden_intrinsics_and_runtime_objects_are_frozen(name: str, attack: str) -> None:
    engine = TemplateEngine()
    obj = HIDDEN[name]
    frozen = compile_template(f"<%= Object.isFrozen({obj}) %>", name=unique_name())

    assert engine.render(frozen, _victim_event()) == "true"
    for key in ('"next"', '"toString"', "Symbol.iterator", '"call"'):
        _attack_then_victim(engine, _attack_source(attack, obj, key))


def test_a_non_configurable_global_fails_the_render_and_the_sandbox_is_replaced() -> None:
    engine = TemplateEngine()
    attack = compile_template(
        "<% var log = []; Object.defineProperty(globalThis, 'escapeXMLString',"
        " {value: function (s) { log.push(String(s)); return 'PWNED'; }}); %>x",
        name="attack",
        field="html",
    )
    engine.render(_victim_template(), _victim_event())
    before = engine._sandbox()

    with pytest.raises(TemplateRuntimeError) as caught:
        engine.render(attack, make_event())

    assert "non-configurable global 'escapeXMLString'" in caught.value.reason
    assert caught.value.field == "html"
    assert engine._sandbox() is not before
    assert engine.render(_victim_template(), _victim_event()) == _expected_victim()


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("<% Object.setPrototypeOf(globalThis, {escapeXMLString: String}) %>", "prototype"),
        ("<% globalThis.__proto__ = Object.create(null) %>", "prototype"),
        ("<% Object.preventExtensions(globalThis) %>", "non-extensible"),
        ("<% Object.freeze(globalThis) %>", "non-extensible"),
        ("<% Object.defineProperty(globalThis, Symbol.for('k'), {value: 1}) %>", "Symbol(k)"),
        ("<% Promise.resolve().then(function () { String.prototype.x = 1; }) %>", "Promise job"),
        ("<% (async function () { await null; leaked = 1; })() %>", "Promise job"),
        ("<% Promise.reject(new Error('x')).catch(function () { leaked = 1; }) %>", "Promise job"),
        ("<% import('os') %>", "Promise job"),
        (
            "<% new FinalizationRegistry(function () { leaked = 1; }).register({}, 1) %>",
            "FinalizationRegistry",
        ),
    ],
)
def test_lasting_changes_fail_the_render_and_the_next_one_is_clean(
    source: str, reason: str
) -> None:
    engine = TemplateEngine()
    template = compile_template(source + "x", name=unique_name())
    engine.render(_victim_template(), _victim_event())
    before = engine._sandbox()

    with pytest.raises(TemplateRuntimeError) as caught:
        engine.render(template, make_event())

    assert reason in caught.value.reason
    assert "templates may not change the sandbox" in caught.value.reason
    assert engine._sandbox() is not before
    assert engine.render(_victim_template(), _victim_event()) == _expected_victim()
    leaked = compile_template("<%= typeof leaked %>", name=unique_name())
    assert engine.render(leaked, make_event()) == "undefined"


def test_a_promise_job_left_by_one_field_fails_the_message() -> None:
    engine = TemplateEngine()
    fields = {
        "subject": compile_template("<% Promise.resolve().then(String) %>s", name="m"),
        "html": compile_template("h", name="m", field="html"),
    }
    with pytest.raises(TemplateRuntimeError, match="Promise job"):
        engine.render_fields(CompiledFields(name="m", fields=fields), make_event())


def test_implicit_globals_cannot_hide_the_purge() -> None:
    engine = TemplateEngine()
    attack = compile_template(
        "<% Reflect = {deleteProperty: function () { return true; }};"
        " escapeXMLString = function () { return 'PWNED'; }; %>x",
        name=unique_name(),
    )

    assert engine.render(attack, make_event()) == "x"
    assert engine.render(_victim_template(), _victim_event()) == _expected_victim()


def test_the_runtime_hands_no_private_key_to_a_template_proxy() -> None:
    # A Proxy's get trap sees the key of every read: the runtime once recognised views by a
    # symbol read this way, and the symbol opened the view shared by all renders.
    engine = TemplateEngine()
    spy = (
        "<% var keys = []; var trap = {get: function (t, k) {"
        " if (typeof k === 'symbol') keys.push(k); return undefined; }};"
        " var spies = [new Proxy(function () {}, trap), new Proxy({}, trap), new Proxy([], trap)];"
        " [escapeXMLString, formatDate, __mc.str, __mc.each, __mc.rethrow, rtEvent.ctx.toString,"
        " rtEvent.ctx.firstName.toUpperCase, rtEvent.ctx.text, rtEvent[Symbol.iterator],"
        " rtEvent[Symbol.toPrimitive]].forEach(function (f) { spies.forEach(function (s) {"
        " try { f(s); } catch (e) {} try { f.call(s); } catch (e) {} }); });"
        " keys.forEach(function (k) { [rtEvent.ctx.nope, rtEvent, rtEvent.ctx].forEach("
        " function (v) { try { var t = v[k]; if (t && typeof t === 'object') {"
        " t.n = [['x', 'PWNED']]; t.c = {firstName: 'PWNED'}; } } catch (e) {} }); }); %>"
        "<%= keys.filter(function (k) { return !String(k.description).startsWith('Symbol.'); })"
        ".map(String).join() %>"
    )
    template = compile_template(spy, name=unique_name())

    assert engine.render(template, _victim_event()) == ""
    assert engine.render(_victim_template(), _victim_event()) == _expected_victim()


def test_a_template_keeps_no_state_between_its_own_renders() -> None:
    engine = TemplateEngine()
    template = compile_template(
        "<% var self = arguments.callee; self.seen = (self.seen || '') + rtEvent.email;"
        " try { __template = null; } catch (e) {} %><%= self.seen %>|<%= __template === self %>",
        name=unique_name(),
    )

    first = engine.render(template, make_event(email="one@example.com"))
    second = engine.render(template, make_event(email="two@example.com"))

    assert (first, second) == ("|true", "|true")  # undefined writes nothing


def test_error_settings_cannot_be_hooked() -> None:
    engine = TemplateEngine()
    hook = compile_template(
        "<% Error.prepareStackTrace = function () { return 'PWNED'; };"
        " Error.stackTraceLimit = 0; %><%= typeof Error.prepareStackTrace %>",
        name=unique_name(),
    )
    failing = compile_template("a\n<%= null.total %>", name="failing")

    assert engine.render(hook, make_event()) == "undefined"
    with pytest.raises(TemplateRuntimeError) as caught:
        engine.render(failing, make_event())
    assert caught.value.line == 2


def test_common_overrides_still_work_on_own_objects(engine: TemplateEngine) -> None:
    source = (
        "<% function Money(v) { this.v = v; }"
        " Money.prototype.toString = function () { return '$' + this.v; };"
        " var e = new Error('m'); e.name = 'OrderError'; var o = {}; o.valueOf = function () {"
        " return 41; }; o.constructor = 'c'; %><%= new Money(5) %> <%= e %> <%= o + 1 %>"
        " <%= o.constructor %> <%= ({}).toString() %> <%= Object.prototype.toString.call([]) %>"
    )
    template = compile_template(source, name=unique_name())

    assert engine.render(template, make_event()) == (
        "$5 OrderError: m 42 c [object Object] [object Array]"
    )


def test_changing_a_built_in_is_ignored_in_sloppy_code(engine: TemplateEngine) -> None:
    source = (
        "<% Array.prototype.sum = function () { return 1; }; Math.round = null;"
        " Object.prototype.toString = null; %>"
        "<%= typeof [].sum %> <%= Math.round(1.6) %> <%= typeof Object.prototype.toString %>"
    )
    template = compile_template(source, name=unique_name())

    with pytest.raises(TemplateRuntimeError, match="cannot change toString"):
        engine.render(template, make_event())
    template = compile_template(source.replace(" Object.prototype.toString = null;", ""), name="b")
    assert engine.render(template, make_event()) == "undefined 2 function"
