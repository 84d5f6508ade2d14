"""Campaign-style templates rendered with the event's attributes and its ctx (E4X views)."""

from __future__ import annotations

import pytest
from lxml import etree

from services.errors import HostileXml, MalformedXml
from services.personalization import (
    EventData,
    TemplateEngine,
    compile_fields,
    compile_template,
    render,
)
from tests.unit.personalization.builders import make_event, unique_name
from tests.unit.personalization.conftest import Render

PASSWORD_RESET = """\
<html><body>
<p>Hello <%= rtEvent.ctx.firstName %>,</p>
<p>Someone asked to reset the password of <%= rtEvent.email %>.</p>
<a href="https://shop.example/reset?token=<%= encodeURIComponent(rtEvent.ctx.token)
  %>&amp;u=<%= encodeURIComponent(rtEvent.externalId) %>">Reset my password</a>
</body></html>"""

ORDER_CONFIRMATION = """\
<h1>Order <%= rtEvent.ctx.order.@id %></h1>
<table>
<% var total = 0;
   for each (var item in rtEvent.ctx.item) {
     var amount = parseFloat(item.@price) * item.@qty;
     total += amount; %>
<tr><td><%= item.@name %></td><td><%= item.@qty %></td><td><%= amount.toFixed(2) %></td></tr>
<% } %>
</table>
<% if (total >= 100) { %><p>Free shipping!</p><% } else { %><p>Shipping: 4.90</p><% } %>
<p>Total: <%= total.toFixed(2) %> for <%= rtEvent.ctx.item.length() %> lines</p>"""

ORDER_CTX = """\
<ctx>
  <order id="A-1042" date="2024-03-05"/>
  <item name="Mug" qty="2" price="9.50"/>
  <item name="Tea" qty="3" price="30"/>
  <item name="Spoon" qty="1" price="2"/>
</ctx>"""


def test_password_reset_email(render: Render) -> None:
    ctx = "<ctx><firstName>Ann</firstName><token>a+b/c=d&amp;e</token></ctx>"

    html = render(PASSWORD_RESET, ctx, email="ann@example.com", externalId="cust 42")

    assert "<p>Hello Ann,</p>" in html
    assert "password of ann@example.com." in html
    assert 'href="https://shop.example/reset?token=a%2Bb%2Fc%3Dd%26e&amp;u=cust%2042"' in html


def test_order_confirmation_loops_computes_a_total_and_branches(render: Render) -> None:
    html = render(ORDER_CONFIRMATION, ORDER_CTX)

    assert "<h1>Order A-1042</h1>" in html
    assert "<tr><td>Mug</td><td>2</td><td>19.00</td></tr>" in html
    assert "<tr><td>Tea</td><td>3</td><td>90.00</td></tr>" in html
    assert "<tr><td>Spoon</td><td>1</td><td>2.00</td></tr>" in html
    assert html.index("Mug") < html.index("Tea") < html.index("Spoon")
    assert "<p>Free shipping!</p>" in html
    assert "Shipping: 4.90" not in html
    assert "<p>Total: 111.00 for 3 lines</p>" in html


def test_order_confirmation_takes_the_else_branch_below_the_threshold(render: Render) -> None:
    ctx = '<ctx><order id="A-7"/><item name="Pen" qty="1" price="3.5"/></ctx>'

    html = render(ORDER_CONFIRMATION, ctx)

    assert "<p>Shipping: 4.90</p>" in html
    assert "Free shipping" not in html
    assert "<p>Total: 3.50 for 1 lines</p>" in html


def test_template_text_is_kept_byte_for_byte(render: Render) -> None:
    source = '  <a href="x">\n\t"quotes" \\ backslash \u2028 é €\r\n</a>%> 100% <'

    assert render(source) == source


def test_event_attributes_read_as_fields(render: Render) -> None:
    source = (
        "<%= rtEvent.type %>|<%= rtEvent.email %>|<%= rtEvent.externalId %>|<%= rtEvent.@email %>"
    )

    out = render(source, None, type="ORDER", email="bob@example.com", externalId="1596")

    assert out == "ORDER|bob@example.com|1596|bob@example.com"


def test_batch_event_is_the_same_object(render: Render) -> None:
    source = "<%= batchEvent.ctx.firstName %> <%= batchEvent === rtEvent %>"

    assert render(source, "<ctx><firstName>Zoé</firstName></ctx>") == "Zoé true"


def test_attributes_with_at_accessor(render: Render) -> None:
    ctx = (
        '<ctx><order id="42" status="paid"/>'
        '<customer tier="gold"><address country="FR"/></customer></ctx>'
    )
    source = (
        "<%= rtEvent.ctx.order.@id %>/<%= rtEvent.ctx.order.@status %>/"
        "<%= rtEvent.ctx.customer.@tier %>/<%= rtEvent.ctx.customer.address.@country %>"
    )

    assert render(source, ctx) == "42/paid/gold/FR"


def test_nested_elements(render: Render) -> None:
    ctx = """<ctx><customer><name><first>Ann</first><last>Lee</last></name>
        <address><city>Lyon</city><zip>69001</zip></address></customer></ctx>"""
    source = (
        "<%= rtEvent.ctx.customer.name.first %> <%= rtEvent.ctx.customer.name.last %>, "
        "<%= rtEvent.ctx.customer.address.zip %> <%= rtEvent.ctx.customer.address.city %>"
    )

    assert render(source, ctx) == "Ann Lee, 69001 Lyon"


def test_missing_paths_render_empty(render: Render) -> None:
    source = (
        "[<%= rtEvent.ctx.nope %>][<%= rtEvent.ctx.nope.deeper %>][<%= rtEvent.ctx.nope.@id %>]"
        "[<%= rtEvent.nope %>][<%= rtEvent.ctx.item[5].@name %>][<%= rtEvent.ctx.order.@missing %>]"
        "[<%= rtEvent.ctx.nope.deeper.length() %>]"
        "[<%= rtEvent.ctx.name %>][<%= rtEvent.ctx.split %>]"
    )

    assert render(source, '<ctx><order id="1"/></ctx>') == "[][][][][][][0][][]"


def test_missing_ctx_renders_empty(render: Render) -> None:
    assert render("[<%= rtEvent.ctx.firstName %>]", None) == "[]"


def test_for_each_over_a_single_element_iterates_once(render: Render) -> None:
    source = "<% for each (var item in rtEvent.ctx.item) { %>(<%= item.@name %>)<% } %>"

    assert render(source, '<ctx><item name="only"/></ctx>') == "(only)"
    assert render(source, '<ctx><item name="a"/><item name="b"/></ctx>') == "(a)(b)"
    assert render(source, "<ctx><other/></ctx>") == ""


def test_length_counts_elements(render: Render) -> None:
    source = "<%= rtEvent.ctx.item.length() %>"

    assert render(source, "<ctx/>") == "0"
    assert render(source, "<ctx><item/></ctx>") == "1"
    assert render(source, "<ctx><item/><x/><item/><item/></ctx>") == "3"


def test_indexing_and_for_each_without_var(render: Render) -> None:
    ctx = '<ctx><item name="a"/><item name="b"/></ctx>'
    source = (
        "<%= rtEvent.ctx.item[1].@name %><%= rtEvent.ctx.item[0].@name %>"
        "<% var it; for each (it in rtEvent.ctx.item) { %>-<%= it.@name %><% } %>"
        "<% for (var x of rtEvent.ctx.item) { %>+<%= x.@name %><% } %>"
    )

    assert render(source, ctx) == "ba-a-b+a+b"


def test_for_each_over_arrays_and_objects_gives_values(render: Render) -> None:
    source = (
        "<% for each (var v in [3, 4]) { %><%= v %>,<% } %>"
        '<% for each (var w in {a: "x", b: "y"}) { %><%= w %>;<% } %>'
        "<% for each (var n in null) { %>never<% } %>"
    )

    assert render(source) == "3,4,x;y;"


def test_ctx_numbers_are_strings_but_arithmetic_works(render: Render) -> None:
    ctx = '<ctx><count>7</count><item qty="2" price="1.25"/></ctx>'
    source = (
        "<% var item = rtEvent.ctx.item; %>"
        "<%= typeof item.@qty %>|<%= item.@qty + 1 %>|<%= parseFloat(item.@price) * item.@qty %>|"
        "<%= rtEvent.ctx.count * 2 %>|<%= rtEvent.ctx.count > 5 %>|<%= rtEvent.ctx.count == '7' %>"
    )

    assert render(source, ctx) == "string|21|2.5|14|true|true"


def test_element_text_converts_and_string_methods_apply(render: Render) -> None:
    ctx = "<ctx><firstName>ann</firstName><city> Paris </city></ctx>"
    source = (
        "<%= rtEvent.ctx.firstName.toUpperCase() %>|<%= 'Dear ' + rtEvent.ctx.firstName %>|"
        "[<%= rtEvent.ctx.city.trim() %>]|[<%= rtEvent.ctx.city %>]|"
        "<%= rtEvent.ctx.firstName.toString().length %>"
    )

    assert render(source, ctx) == "ANN|Dear ann|[Paris]|[ Paris ]|3"


def test_e4x_methods_on_complex_content(render: Render) -> None:
    ctx = '<ctx><customer id="9"><name>Ann</name><tag>a</tag><tag>b</tag></customer></ctx>'
    source = (
        "<%= rtEvent.ctx.customer.hasComplexContent() %>|"
        "<%= rtEvent.ctx.customer.name.hasSimpleContent() %>|"
        "<%= rtEvent.ctx.customer.children().length() %>|"
        "<%= rtEvent.ctx.customer.child('tag')[1] %>|"
        "<%= rtEvent.ctx.customer.name.name() %>|<%= rtEvent.ctx.customer.attribute('id') %>|"
        "<%= rtEvent.ctx.customer.toXMLString() %>"
    )

    assert render(source, ctx) == (
        'true|true|3|b|name|9|<customer id="9"><name>Ann</name><tag>a</tag><tag>b</tag></customer>'
    )


def test_expression_output_is_not_escaped(render: Render) -> None:
    ctx = "<ctx><comment>&lt;b&gt;bold&lt;/b&gt; &amp; &quot;more&quot;</comment></ctx>"

    assert render("<%= rtEvent.ctx.comment %>", ctx) == '<b>bold</b> & "more"'


def test_escape_xml_string_neutralises_hostile_text(render: Render) -> None:
    ctx = """<ctx><name>&lt;script&gt;alert("x")&lt;/script&gt; &amp; 'y'</name></ctx>"""
    source = (
        '<p title="<%= escapeXMLString(rtEvent.ctx.name) %>">'
        "<%= escapeXMLString(rtEvent.ctx.name) %></p>"
    )

    html = render(source, ctx)

    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; 'y'"
    assert html == f'<p title="{escaped}">{escaped}</p>'
    assert "<script>" not in html
    others = "[<%= escapeXMLString(rtEvent.ctx.nope) %>][<%= escapeXmlStr(1 < 2) %>]"
    assert render(others) == "[][true]"


def test_undefined_and_null_write_nothing(render: Render) -> None:
    assert render("[<%= undefined %>][<%= null %>][<%= 0 %>][<%= false %>]") == "[][][0][false]"


def test_expression_may_end_with_semicolon_or_comment(render: Render) -> None:
    assert render("<%= 1 + 1; %>|<%= 2 // two %>|<%= 3 /* three */ %>") == "2|2|3"


def test_statements_without_braces_bind_to_the_next_text(render: Render) -> None:
    source = "<% if (rtEvent.ctx.vip == '1') %>VIP<% else %>regular"

    assert render(source, "<ctx><vip>1</vip></ctx>") == "VIP"
    assert render(source, "<ctx><vip>0</vip></ctx>") == "regular"


def test_implicit_globals_do_not_leak_into_the_next_render(engine: TemplateEngine) -> None:
    template = compile_template(
        "<% if (rtEvent.ctx.vip == '1') { discount = 10; } %>"
        "<%= typeof discount == 'undefined' ? 'none' : discount %>",
        name=unique_name(),
    )

    vip = engine.render(template, make_event("<ctx><vip>1</vip></ctx>"))
    regular = engine.render(template, make_event("<ctx><vip>0</vip></ctx>"))

    assert (vip, regular) == ("10", "none")


def test_implicit_loop_counter_works_as_in_sloppy_javascript(render: Render) -> None:
    source = "<% for (i = 0; i < 3; i++) { %><%= i %><% } %>"

    assert render(source) == "012"


def test_helpers_cannot_be_replaced_by_a_template(engine: TemplateEngine) -> None:
    vandal = compile_template(
        "<% escapeXMLString = function () { return 'x'; }; %>", name=unique_name()
    )
    victim = compile_template("<%= escapeXMLString('<') %>", name=unique_name())

    engine.render(vandal, make_event())

    assert engine.render(victim, make_event()) == "&lt;"


def test_event_data_from_an_rt_event_element() -> None:
    element = etree.fromstring(
        b'<rtEvent type="ORDER" email="bob@example.com" externalId="77">'
        b"<ctx><firstName>Bob</firstName></ctx></rtEvent>"
    )
    template = compile_template(
        "<%= rtEvent.type %> <%= rtEvent.externalId %> <%= rtEvent.ctx.firstName %>",
        name=unique_name(),
    )

    assert render(template, EventData.from_element(element)) == "ORDER 77 Bob"


def test_ctx_as_lxml_element_string_or_bytes_renders_the_same() -> None:
    xml = '<ctx xmlns:x="urn:x"><x:name x:kind="k">Ann</x:name><!-- c --></ctx>'
    template = compile_template(
        "<%= rtEvent.ctx.name %>/<%= rtEvent.ctx.name.@kind %>", name=unique_name()
    )

    outputs = {
        render(template, EventData({}, ctx))
        for ctx in (xml, xml.encode(), etree.fromstring(xml.encode()))
    }

    assert outputs == {"Ann/k"}


def test_compile_fields_renders_subject_html_and_text_together(engine: TemplateEngine) -> None:
    fields = compile_fields(
        {
            "subject": "Your order <%= rtEvent.ctx.order.@id %>",
            "html": ORDER_CONFIRMATION,
            "text": "Hello <%= rtEvent.ctx.firstName %>, order <%= rtEvent.ctx.order.@id %>.",
        },
        name=unique_name("order"),
    )

    ctx = ORDER_CTX.replace("<ctx>", "<ctx><firstName>Al</firstName>")

    out = engine.render_fields(fields, make_event(ctx))

    assert list(out) == ["subject", "html", "text"]
    assert out["subject"] == "Your order A-1042"
    assert "<p>Total: 111.00 for 3 lines</p>" in out["html"]
    assert out["text"] == "Hello Al, order A-1042."


def test_ctx_with_a_doctype_or_broken_xml_is_refused(engine: TemplateEngine) -> None:
    template = compile_template("<%= rtEvent.ctx.a %>", name=unique_name())
    entity = '<!DOCTYPE ctx [<!ENTITY big "boom">]><ctx><a>&big;</a></ctx>'

    with pytest.raises(HostileXml):
        engine.render(template, make_event(entity))
    with pytest.raises(MalformedXml):
        engine.render(template, make_event("<ctx><a>open</ctx>"))
