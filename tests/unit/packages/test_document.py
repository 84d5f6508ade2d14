"""The package document: written in a stable order, read back to the same entities."""

from __future__ import annotations

import pytest

from control_instance.packages.document import build_document, read_document
from control_instance.packages.model import (
    FORMAT_VERSION,
    AccountEntry,
    EventTypeEntry,
    IncompatiblePackage,
    InvalidPackage,
    Package,
    PackageHeader,
    SeedEntry,
    TemplateEntry,
)
from control_instance.templates.content import ChannelName

HEADER = PackageHeader(
    namespace="mcsim",
    name="p",
    label="A <label> & more",
    author="ann",
    build_number=FORMAT_VERSION,
    build_version="1.2.3",
    build_date="2026-01-01 00:00:00.000Z",
    environment="stage",
    desc="moves the shipping messages",
)


def package(reverse: bool = False) -> Package:
    """Return a package with two entities of each kind, in one order or the other."""
    order = reversed if reverse else list
    return Package(
        header=HEADER,
        event_types=list(order([EventTypeEntry("A", "a"), EventTypeEntry("B", "b & c")])),
        templates=list(
            order(
                [
                    TemplateEntry(
                        "A_sms", "A sms", "A", ChannelName.SMS, {"text": "Hi <%= x %>\n\n"}, 2
                    ),
                    TemplateEntry(
                        "B_ios", "B", "B", ChannelName.IOS, {"title": "t", "body": "b", "data": ""}
                    ),
                ]
            )
        ),
        seeds=list(
            order(
                [
                    SeedEntry("A_sms", "one", "+33600000000", "", "<ctx><a>1</a></ctx>"),
                    SeedEntry("A_sms", "two", "+33600000001", "x-2", "<ctx/>"),
                ]
            )
        ),
        accounts=list(
            order(
                [
                    AccountEntry("exec1", "One", "http://a.test", "mc"),
                    AccountEntry("exec2", "Two", "https://b.test/x", "ops"),
                ]
            )
        ),
    )


def test_a_package_reads_back_to_what_was_written() -> None:
    document = build_document(package())
    read = read_document(document)
    assert read.header == HEADER
    assert read == package().sorted()
    assert read.templates[1].content == {"title": "t", "body": "b", "data": ""}
    assert read.templates[0].published_version == 2


def test_the_order_of_entities_does_not_change_the_document() -> None:
    assert build_document(package()) == build_document(package(reverse=True))


def test_another_format_is_refused_with_both_versions_named() -> None:
    document = build_document(package()).replace(
        f'buildNumber="{FORMAT_VERSION}"'.encode(), b'buildNumber="7"'
    )
    with pytest.raises(IncompatiblePackage) as refused:
        read_document(document)
    assert "format 7" in refused.value.message
    assert f"reads format {FORMAT_VERSION}" in refused.value.message
    assert "1.2.3" in refused.value.message


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        (b'messageType="1"', b'messageType="7"', "not a channel"),
        (b'internalName="A_sms" label', b'internalName="1 bad" label', "not a valid name"),
        (b'url="http://a.test"', b'url="ftp://a.test"', "not an http(s) URL"),
        (b'_operation="none" name="A"', b'_operation="insert" name="A"', "_operation"),
        (b"<desc>", b"<surprise/><desc>", "not expected"),
        (b'login="ops"', b'login="' + b"o" * 65 + b'"', "login has more than 64 characters"),
        (b'label="b &amp; c"', b'label="' + b"b" * 256 + b'"', "label has more than 255"),
    ],
)
def test_structural_errors_are_named(old: bytes, new: bytes, reason: str) -> None:
    document = build_document(package())
    assert old in document
    with pytest.raises(InvalidPackage) as refused:
        read_document(document.replace(old, new, 1))
    assert reason in refused.value.message
