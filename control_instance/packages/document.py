"""A package's XML form: written in a stable order, read with the hardened SOAP parser.

Campaign's package grammar (campaign-facts §6): ``<package namespace name label author
buildNumber buildVersion><desc/><version buildDate/>`` and one ``<entities schema="nms:…">`` per
document type; links name the other entity by its key with ``_operation="none"``. mcsim writes
its package format version into ``buildNumber`` and refuses any other on import.
"""

from __future__ import annotations

import re

from lxml import etree

from control_instance.event_types.schemas import EVENT_TYPE_PATTERN
from control_instance.packages.model import (
    ACCOUNT_SCHEMA,
    EVENT_TYPE_SCHEMA,
    FORMAT_VERSION,
    SEED_SCHEMA,
    TEMPLATE_SCHEMA,
    AccountEntry,
    EventTypeEntry,
    IncompatiblePackage,
    InvalidPackage,
    Package,
    PackageHeader,
    SeedEntry,
    TemplateEntry,
)
from control_instance.packages.technical_accounts import (
    TECHNICAL_ACCOUNT_SCHEMA,
    read_technical_account,
    write_technical_accounts,
)
from control_instance.templates.content import CHANNEL_FIELDS, ChannelName
from control_instance.templates.schemas import NAME_PATTERN
from services.safe_input import ascii_digits
from services.soap.parser import parse_xml

__all__ = ["MAX_PACKAGE_BYTES", "build_document", "read_document"]

#: Largest package accepted on import.
MAX_PACKAGE_BYTES = 5 * 1024 * 1024

_ACCOUNT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_URL = re.compile(r"^https?://[^\s/]+(/[^\s]*)?$")
_CHANNELS = {channel.code: channel for channel in ChannelName}


def _entities(root: etree._Element, schema: str) -> etree._Element:
    return etree.SubElement(root, "entities", schema=schema)


def _link(parent: etree._Element, tag: str, key: str, value: str) -> None:
    etree.SubElement(parent, tag, {"_operation": "none", key: value})


def build_document(package: Package) -> bytes:
    """Return the package as UTF-8 XML, entities in their stable order."""
    package = package.sorted()
    head = package.header
    root = etree.Element(
        "package",
        namespace=head.namespace,
        name=head.name,
        label=head.label,
        author=head.author,
        buildNumber=head.build_number,
        buildVersion=head.build_version,
        vendor="mcsim",
        environment=head.environment,
    )
    etree.SubElement(root, "desc").text = head.desc or None
    etree.SubElement(root, "version", buildDate=head.build_date)
    if package.event_types:
        section = _entities(root, EVENT_TYPE_SCHEMA)
        for event_type in package.event_types:
            etree.SubElement(section, "eventType", name=event_type.name, label=event_type.label)
    if package.templates:
        section = _entities(root, TEMPLATE_SCHEMA)
        for template in package.templates:
            element = etree.SubElement(
                section,
                "delivery",
                internalName=template.name,
                label=template.label,
                messageType=str(template.channel.code),
            )
            if template.published_version is not None:
                element.set("publishedVersion", str(template.published_version))
            _link(element, "eventType", "name", template.event_type)
            content = etree.SubElement(element, "content")
            for name in CHANNEL_FIELDS[template.channel]:
                etree.SubElement(content, name).text = template.content.get(name, "")
    if package.seeds:
        section = _entities(root, SEED_SCHEMA)
        for seed in package.seeds:
            element = etree.SubElement(
                section,
                "seedMember",
                label=seed.label,
                address=seed.address,
                externalId=seed.external_id,
            )
            _link(element, "delivery", "internalName", seed.template)
            etree.SubElement(element, "ctx").text = seed.ctx
    if package.accounts:
        section = _entities(root, ACCOUNT_SCHEMA)
        for account in package.accounts:
            etree.SubElement(
                section,
                "extAccount",
                name=account.name,
                label=account.label,
                type="execution",
                url=account.url,
                login=account.login,
            )
    write_technical_accounts(root, package.technical_accounts)
    document: bytes = etree.tostring(
        root, xml_declaration=True, encoding="UTF-8", pretty_print=True
    )
    return document


def _where(element: etree._Element) -> str:
    return f"line {element.sourceline}: <{element.tag}>"


def _attr(element: etree._Element, name: str, *, pattern: str | None = None) -> str:
    value = element.get(name)
    if value is None:
        raise InvalidPackage(f"{_where(element)} has no {name} attribute", field=name)
    if pattern is not None and not re.match(pattern, value):
        raise InvalidPackage(f"{_where(element)}: {name}={value!r} is not a valid name", field=name)
    return value


def _children(element: etree._Element, tag: str) -> list[etree._Element]:
    found = []
    for child in element:
        if not isinstance(child.tag, str):  # comments and processing instructions
            continue
        if child.tag != tag:
            raise InvalidPackage(f"{_where(child)} is not expected in <{element.tag}>")
        found.append(child)
    return found


def _one(element: etree._Element, tag: str) -> etree._Element:
    found = [child for child in element if child.tag == tag]
    if len(found) != 1:
        raise InvalidPackage(f"{_where(element)} must have exactly one <{tag}>")
    return found[0]


def _link_key(element: etree._Element, tag: str, key: str) -> str:
    link = _one(element, tag)
    if link.get("_operation", "none") != "none":
        raise InvalidPackage(f'{_where(link)}: a link must have _operation="none"')
    return _attr(link, key)


def _read_header(root: etree._Element) -> PackageHeader:
    build_number = root.get("buildNumber", "")
    build_version = root.get("buildVersion", "")
    if build_number != FORMAT_VERSION:
        raise IncompatiblePackage(
            f"this package has format {build_number or 'none'} (buildNumber, written by mcsim "
            f"{build_version or 'unknown'}); this control instance reads format "
            f"{FORMAT_VERSION} only: export it again from an mcsim of the same version",
            field="buildNumber",
        )
    desc = root.find("desc")
    version = root.find("version")
    return PackageHeader(
        namespace=root.get("namespace", ""),
        name=root.get("name", ""),
        label=root.get("label", ""),
        author=root.get("author", ""),
        build_number=build_number,
        build_version=build_version,
        build_date=version.get("buildDate", "") if version is not None else "",
        environment=root.get("environment", ""),
        desc=(desc.text or "") if desc is not None else "",
    )


def _read_template(element: etree._Element) -> TemplateEntry:
    name = _attr(element, "internalName", pattern=NAME_PATTERN)
    code = _attr(element, "messageType")
    channel = _CHANNELS.get(int(code)) if ascii_digits(code) else None
    if channel is None:
        raise InvalidPackage(f"{_where(element)}: messageType={code!r} is not a channel")
    published = element.get("publishedVersion")
    if published is not None and not ascii_digits(published):
        raise InvalidPackage(f"{_where(element)}: publishedVersion must be a number")
    content: dict[str, str] = {}
    for child in _one(element, "content"):
        if not isinstance(child.tag, str):
            continue
        if child.tag not in CHANNEL_FIELDS[channel] or len(child):
            raise InvalidPackage(
                f"{_where(child)} is not a field of the {channel.value} channel",
                detail=f"the {channel.value} channel has: {', '.join(CHANNEL_FIELDS[channel])}",
            )
        content[child.tag] = child.text or ""
    return TemplateEntry(
        name=name,
        label=element.get("label", ""),
        event_type=_link_key(element, "eventType", "name"),
        channel=channel,
        content={field: content.get(field, "") for field in CHANNEL_FIELDS[channel]},
        published_version=int(published) if published is not None else None,
    )


def _read_seed(element: etree._Element) -> SeedEntry:
    ctx = _one(element, "ctx")
    if len(ctx):
        raise InvalidPackage(f"{_where(ctx)} must hold the ctx XML as text")
    return SeedEntry(
        template=_link_key(element, "delivery", "internalName"),
        label=_attr(element, "label"),
        address=_attr(element, "address"),
        external_id=element.get("externalId", ""),
        ctx=ctx.text or "",
    )


def _read_account(element: etree._Element) -> AccountEntry:
    url = _attr(element, "url")
    if not _URL.match(url):
        raise InvalidPackage(f"{_where(element)}: url={url!r} is not an http(s) URL", field="url")
    if element.get("type", "execution") != "execution":
        raise InvalidPackage(f"{_where(element)}: only execution accounts can be imported")
    if element.get("password") is not None:
        raise InvalidPackage(f"{_where(element)}: packages never carry passwords")
    return AccountEntry(
        name=_attr(element, "name", pattern=_ACCOUNT_NAME.pattern),
        label=element.get("label", ""),
        url=url,
        login=_attr(element, "login"),
    )


def _unique(keys: list[tuple[str, ...]], what: str) -> None:
    seen: set[tuple[str, ...]] = set()
    for key in keys:
        if key in seen:
            raise InvalidPackage(f"the package holds {what} {'/'.join(key)!r} twice")
        seen.add(key)


def _fits(what: str, values: dict[str, tuple[str, int]]) -> None:
    for name, (value, limit) in values.items():
        if len(value) > limit:
            raise InvalidPackage(f"{what}: {name} has more than {limit} characters", field=name)


def _check_lengths(package: Package) -> None:
    for event_type in package.event_types:
        _fits(f"event type {event_type.name}", {"label": (event_type.label, 255)})
    for template in package.templates:
        _fits(f"template {template.name}", {"label": (template.label, 255)})
    for seed in package.seeds:
        _fits(
            f"seed address {seed.template}/{seed.label}",
            {
                "label": (seed.label, 255),
                "address": (seed.address, 4096),
                "externalId": (seed.external_id, 255),
            },
        )
    for account in package.accounts:
        _fits(
            f"account {account.name}",
            {
                "label": (account.label, 255),
                "url": (account.url, 1024),
                "login": (account.login, 64),
            },
        )


def read_document(data: bytes) -> Package:
    """Parse and check a package's structure (references are checked against the database)."""
    root = parse_xml(data, max_bytes=MAX_PACKAGE_BYTES)
    if root.tag != "package":
        raise InvalidPackage(f"the root element must be <package>, not <{root.tag}>")
    header = _read_header(root)
    package = Package(header=header)
    seen_schemas: set[str] = set()
    for section in root:
        if not isinstance(section.tag, str) or section.tag in ("desc", "version"):
            continue
        if section.tag != "entities":
            raise InvalidPackage(f"{_where(section)} is not expected in <package>")
        schema = section.get("schema", "")
        if schema in seen_schemas:
            raise InvalidPackage(f"{_where(section)}: schema {schema!r} appears twice")
        seen_schemas.add(schema)
        if schema == EVENT_TYPE_SCHEMA:
            package.event_types.extend(
                EventTypeEntry(
                    name=_attr(e, "name", pattern=EVENT_TYPE_PATTERN), label=e.get("label", "")
                )
                for e in _children(section, "eventType")
            )
        elif schema == TEMPLATE_SCHEMA:
            package.templates.extend(_read_template(e) for e in _children(section, "delivery"))
        elif schema == SEED_SCHEMA:
            package.seeds.extend(_read_seed(e) for e in _children(section, "seedMember"))
        elif schema == ACCOUNT_SCHEMA:
            package.accounts.extend(_read_account(e) for e in _children(section, "extAccount"))
        elif schema == TECHNICAL_ACCOUNT_SCHEMA:
            package.technical_accounts.extend(
                read_technical_account(e) for e in _children(section, "technicalAccount")
            )
        else:
            raise InvalidPackage(
                f"{_where(section)}: unknown schema {schema!r}",
                detail=f"known: {EVENT_TYPE_SCHEMA}, {TEMPLATE_SCHEMA}, {SEED_SCHEMA}, "
                f"{ACCOUNT_SCHEMA}, {TECHNICAL_ACCOUNT_SCHEMA}",
                field="schema",
            )
    _unique([(e.name,) for e in package.event_types], "event type")
    _unique([(t.name,) for t in package.templates], "template")
    _unique([(s.template, s.label) for s in package.seeds], "seed address")
    _unique([(a.name,) for a in package.accounts], "account")
    _unique([(a.client_id,) for a in package.technical_accounts], "technical account")
    _check_lengths(package)
    return package
