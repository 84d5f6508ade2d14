"""The parts of the test client that need no stack: ctx as XML, links, messages as read from
the API, attaching by URL, and the plugin's reading of ``--mcsim-up-args``."""

from __future__ import annotations

import pytest
from lxml import etree

from services.testing.client import CapturedMessage, _ctx_xml, _links
from services.testing.pytest_plugin import _instances
from services.testing.stack import attach


def test_ctx_maps_like_the_rest_api() -> None:
    xml = _ctx_xml(
        {
            "firstName": "Ann & <Bob>",
            "order": {"@id": "42", "total": 9.5},
            "item": [{"@name": "Mug", "@qty": 2}, {"@name": "Pen"}],
        },
        "ctx",
    )
    root = etree.fromstring(xml)
    assert root.findtext("firstName") == "Ann & <Bob>"
    assert root.find("order").get("id") == "42"  # type: ignore[union-attr]
    assert root.findtext("order/total") == "9.5"
    assert [item.get("name") for item in root.findall("item")] == ["Mug", "Pen"]
    assert _ctx_xml({}, "ctx") == "<ctx></ctx>"


def test_links_come_from_the_html_then_the_text_once_each() -> None:
    markup = '<p><a href="https://a.test/1">one</a> <a href="https://b.test/2?x=1&amp;y=2">t</a>'
    text = "Open https://a.test/1 or https://c.test/3."
    assert _links(markup, text) == (
        "https://a.test/1",
        "https://b.test/2?x=1&y=2",
        "https://c.test/3",
    )
    assert _links("", "") == ()
    assert _links("   ", "no link") == ()


def test_a_message_as_the_api_gives_it() -> None:
    message = CapturedMessage.from_api(
        {
            "id": 7,
            "channel": "email",
            "to": "ann@example.com",
            "subject": "Hi",
            "fromName": "Acme",
            "fromAddress": "no-reply@acme.test",
            "replyTo": "",
            "text": "Hello",
            "html": "<a href='https://x.test'>x</a>",
            "headers": [{"name": "From", "value": "Acme <no-reply@acme.test>"}],
            "status": "sent",
            "eventId": "72057594037927937",
            "eventType": "PASSWORD_RESET",
        }
    )
    assert message.sender == "Acme <no-reply@acme.test>"
    assert message.header("from") == "Acme <no-reply@acme.test>"
    assert message.header("Subject") is None
    assert message.links == ("https://x.test",)
    assert message.event_id == 72057594037927937


def test_attach_derives_the_default_ports_of_the_host() -> None:
    urls = attach("http://10.0.0.5:8080/")
    assert (urls.lb, urls.mid, urls.control) == (
        "http://10.0.0.5:8080",
        "http://10.0.0.5:8090",
        "http://10.0.0.5:8070",
    )
    assert attach("http://h:1", mid="http://m:2/").mid == "http://m:2"
    with pytest.raises(ValueError, match="not the URL of a load balancer"):
        attach("localhost:8080")


def test_the_number_of_instances_is_taken_out_of_the_up_args() -> None:
    assert _instances(["--no-demo"]) == (1, ["--no-demo"])
    assert _instances(["--instances", "3", "--no-demo"]) == (3, ["--no-demo"])
    assert _instances(["--instances=2"]) == (2, [])
    with pytest.raises(pytest.UsageError, match="1 to 255"):
        _instances(["--instances", "zero"])
