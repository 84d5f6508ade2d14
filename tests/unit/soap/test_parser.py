"""The hardened parser refuses DTDs, entities, depth and size abuse; it reads declared encodings."""

from __future__ import annotations

import contextlib
import resource
import socket
import threading
import time
from pathlib import Path

import pytest

from services.errors import HostileXml, MalformedXml, McsimError, PayloadTooLarge
from services.soap.envelope import read_call
from services.soap.parser import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH, parse_xml
from services.soap.response import render_fault

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz a="&lol9;">&lol9;</lolz>"""

SECRET = "mcsim-xxe-canary-5f1c2a9e"


def nested(depth: int) -> bytes:
    return b"<e>" * depth + b"</e>" * depth


def everything_said(error: McsimError) -> str:
    """Every place a refusal could leak file content: message, detail, str, repr, fault body."""
    fault = render_fault(error).body.decode()
    return " ".join([error.message, error.detail or "", str(error), repr(error), fault])


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


def test_parses_a_plain_document() -> None:
    root = parse_xml(b"<a x='1'><b>text</b><!-- note --><?pi data?></a>")
    assert root.tag == "a"
    assert root.get("x") == "1"
    assert root.findtext("b") == "text"


def test_predefined_entities_and_character_references_are_read() -> None:
    root = parse_xml(b"<a t='&quot;&apos;'>&lt;&amp;&gt;&#233;&#x41;</a>")
    assert root.text == "<&>\u00e9A"
    assert root.get("t") == "\"'"


@pytest.mark.parametrize(
    "document",
    [
        b"<!DOCTYPE a><a/>",
        b'<?xml version="1.0"?>\n<!DOCTYPE a SYSTEM "http://example.com/a.dtd"><a/>',
        b"<?xml version='1.0'?><!-- first --> <?pi x?>\n<!DOCTYPE a []><a/>",
        b"<!doctype a><a/>",
        b"<!ELEMENT a ANY><a/>",
        b"\xef\xbb\xbf<!DOCTYPE a><a/>",
    ],
)
def test_any_doctype_in_the_prolog_is_refused(document: bytes) -> None:
    with pytest.raises(HostileXml) as caught:
        parse_xml(document)
    assert "DOCTYPE" in (caught.value.detail or "")


def test_doctype_position_is_reported() -> None:
    with pytest.raises(HostileXml) as caught:
        parse_xml(b"<?xml version='1.0'?>\n  <!DOCTYPE a><a/>")
    assert caught.value.detail is not None
    assert caught.value.detail.startswith("(2:3) : ")


def test_internal_entity_declaration_is_refused() -> None:
    with pytest.raises(HostileXml):
        parse_xml(b'<!DOCTYPE a [<!ENTITY name "value">]><a>&name;</a>')


def test_parameter_entities_are_refused() -> None:
    document = b"""<!DOCTYPE a [
      <!ENTITY % inner "<!ENTITY x 'expanded'>">
      %inner;
    ]><a>&x;</a>"""
    with pytest.raises(HostileXml):
        parse_xml(document)


def test_external_entity_never_reads_the_file(secret_file: Path) -> None:
    for document in (
        f'<!DOCTYPE a [<!ENTITY xxe SYSTEM "{secret_file.as_uri()}">]><a>&xxe;</a>',
        f'<!DOCTYPE a [<!ENTITY xxe SYSTEM "{secret_file}">]><a b="&xxe;"/>',
        f'<!DOCTYPE a [<!ENTITY % p SYSTEM "{secret_file.as_uri()}"> %p;]><a/>',
        f'<!DOCTYPE a SYSTEM "{secret_file.as_uri()}"><a/>',
    ):
        with pytest.raises(HostileXml) as caught:
            parse_xml(document.encode())
        assert SECRET not in everything_said(caught.value)


def test_external_entity_in_a_soap_call_never_reads_the_file(secret_file: Path) -> None:
    envelope = f"""<?xml version="1.0"?>
<!DOCTYPE e [<!ENTITY xxe SYSTEM "{secret_file.as_uri()}">]>
<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body>
<PushEvent xmlns="urn:nms:rtEvent"><sessiontoken>&xxe;</sessiontoken></PushEvent>
</e:Body></e:Envelope>"""
    with pytest.raises(HostileXml) as caught:
        read_call(envelope.encode(), soap_action="nms:rtEvent#PushEvent")
    assert SECRET not in everything_said(caught.value)


def test_external_entity_never_touches_the_network() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(0.3)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/evil.dtd"
        for document in (
            f'<!DOCTYPE a [<!ENTITY xxe SYSTEM "{url}">]><a>&xxe;</a>',
            f'<!DOCTYPE a SYSTEM "{url}"><a/>',
        ):
            with pytest.raises(HostileXml):
                parse_xml(document.encode())
        with pytest.raises(TimeoutError):
            listener.accept()


def test_billion_laughs_is_refused_at_once_without_eating_memory() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    for _ in range(100):
        with pytest.raises(HostileXml):
            parse_xml(BILLION_LAUGHS)
    elapsed = time.perf_counter() - started
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    # Expanded, one document is 3 GB of "lol"s; refused, a hundred take well under a second.
    assert elapsed < 1.0
    assert grown_kib < 50 * 1024


def test_undeclared_entity_reference_is_refused_as_hostile() -> None:
    with pytest.raises(HostileXml) as caught:
        parse_xml(b"<a>\n<b>&lol9;</b></a>")
    assert caught.value.detail == "(2:10) : Entity 'lol9' not defined"


def test_doctype_text_inside_cdata_and_comments_is_only_text() -> None:
    root = parse_xml(b"<a><![CDATA[<!DOCTYPE html><html/>]]><!-- <!DOCTYPE x> --></a>")
    assert root.text == "<!DOCTYPE html><html/>"


def test_doctype_after_the_root_element_is_malformed() -> None:
    with pytest.raises(MalformedXml):
        parse_xml(b'<a/><!DOCTYPE a [<!ENTITY x "y">]>')


def test_depth_at_the_limit_is_accepted_and_one_more_is_refused() -> None:
    assert DEFAULT_MAX_DEPTH == 64
    assert parse_xml(nested(64)).tag == "e"
    with pytest.raises(HostileXml) as caught:
        parse_xml(nested(65))
    assert "64" in (caught.value.detail or "")


def test_depth_limit_is_an_argument() -> None:
    assert parse_xml(nested(3), max_depth=3).tag == "e"
    with pytest.raises(HostileXml):
        parse_xml(nested(4), max_depth=3)
    assert parse_xml(nested(100), max_depth=100).tag == "e"


def test_depth_beyond_libxml2s_own_limit_is_hostile() -> None:
    with pytest.raises(HostileXml):
        parse_xml(nested(300), max_depth=1000)


def test_size_cap_is_checked_before_parsing() -> None:
    document = b"<a>" + b"x" * 93 + b"</a>"
    assert len(document) == 100
    assert parse_xml(document, max_bytes=100).text == "x" * 93
    with pytest.raises(PayloadTooLarge) as caught:
        parse_xml(document + b" ", max_bytes=100)
    assert caught.value.status_code == 413
    assert "101" in (caught.value.detail or "")
    with pytest.raises(PayloadTooLarge):
        parse_xml(b"<" * (DEFAULT_MAX_BYTES + 1))


def test_malformed_xml_reports_line_and_column_like_campaign() -> None:
    document = b"<rtEvent>\n  <ctx>\n    <a></b>\n  </ctx>\n</rtEvent>"
    with pytest.raises(MalformedXml) as caught:
        parse_xml(document)
    assert caught.value.detail == "(3:12) : Opening and ending tag mismatch: a line 3 and b"


@pytest.mark.parametrize(
    "document",
    [b"", b"   ", b"no xml here", b"<a>", b"<a></a><b/>", b"<a>\x00</a>", b"<a>\xff\xfe</a>"],
)
def test_not_well_formed_documents_are_malformed(document: bytes) -> None:
    with pytest.raises(MalformedXml) as caught:
        parse_xml(document)
    assert caught.value.detail is not None
    assert caught.value.detail.startswith("(")


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_documents_are_read(codec: str) -> None:
    text = "<?xml version='1.0' encoding='UTF-16'?><a n='\u00e9t\u00e9'>\u65e5\u672c \U0001f600</a>"
    data = text.encode(codec)
    if codec != "utf-16":
        data = (b"\xff\xfe" if codec.endswith("le") else b"\xfe\xff") + data
    root = parse_xml(data)
    assert root.text == "\u65e5\u672c \U0001f600"
    assert root.get("n") == "\u00e9t\u00e9"


def test_utf16_without_byte_order_mark_is_read() -> None:
    data = "<?xml version='1.0' encoding='UTF-16'?><a>\u00e9</a>".encode("utf-16-le")
    assert parse_xml(data).text == "\u00e9"


def test_doctype_is_refused_in_utf16_too() -> None:
    data = "<?xml version='1.0' encoding='UTF-16'?><!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>"
    with pytest.raises(HostileXml):
        parse_xml(data.encode("utf-16"))


@pytest.mark.parametrize("declared", ["ISO-8859-1", "iso-8859-1", "latin1", "windows-1252"])
def test_declared_8bit_encodings_are_read(declared: str) -> None:
    data = f"<?xml version='1.0' encoding='{declared}'?><a v='caf\u00e9'>na\u00efve</a>"
    root = parse_xml(data.encode("latin-1"))
    assert root.text == "na\u00efve"
    assert root.get("v") == "caf\u00e9"


def test_utf8_with_and_without_declaration_and_bom() -> None:
    for data in (
        "<a>\u00e9</a>".encode(),
        "<?xml version='1.0' encoding='UTF-8'?><a>\u00e9</a>".encode(),
        b"\xef\xbb\xbf" + "<?xml version='1.0'?><a>\u00e9</a>".encode(),
    ):
        assert parse_xml(data).text == "\u00e9"


@pytest.mark.parametrize(
    "data",
    [
        b"<?xml version='1.0' encoding='klingon'?><a/>",
        b"<?xml version='1.0' encoding='rot13'?><a/>",
        b"<?xml version='1.0' encoding='UTF-16'?><a/>",
        b"<?xml version='1.0' encoding='US-ASCII'?><a>\xe9</a>",
        b"<?xml version='1.0' encoding='UTF-8'?><a>\xe9</a>",
    ],
)
def test_wrong_or_unsupported_encodings_are_malformed(data: bytes) -> None:
    with pytest.raises(MalformedXml):
        parse_xml(data)


def test_parsers_are_safe_to_use_from_many_threads() -> None:
    results: dict[int, list[str | None]] = {}
    failures: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            seen = []
            for round_ in range(300):
                if round_ % 7 == 0:
                    with contextlib.suppress(MalformedXml):
                        parse_xml(f"<a>{worker}</b>".encode())
                seen.append(parse_xml(f"<a><w>{worker}-{round_}</w></a>".encode()).findtext("w"))
            results[worker] = seen
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    for worker, seen in results.items():
        assert seen == [f"{worker}-{round_}" for round_ in range(300)]
