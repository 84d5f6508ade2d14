"""A hardened XML parser for everything mcsim reads from the network.

Defences, in the order they run:

1. the size cap, before any work (:class:`~services.errors.PayloadTooLarge`);
2. the encoding is settled here, not by libxml2: a byte order mark or the XML declaration names
   it, the document is transcoded to UTF-8 and libxml2 is told to read UTF-8. The prolog scan
   below and libxml2 therefore see exactly the same characters;
3. the prolog (XML declaration, comments, processing instructions) is scanned and any ``<!``
   markup in it — a ``DOCTYPE`` and with it every entity declaration, internal or external,
   general or parameter — is refused before libxml2 sees a byte, so nothing is ever expanded and
   no file or URL is ever read (:class:`~services.errors.HostileXml`). A DTD cannot appear
   anywhere else in a well-formed document;
4. libxml2 runs with entity substitution, DTD loading and network access off; a reference to an
   undeclared entity (``&foo;``) is refused as hostile, and libxml2's own resource limits apply;
5. the element depth is capped (64 by default).

Anything else that is not well-formed XML is a :class:`~services.errors.MalformedXml` whose detail
reads like Campaign's: ``(16:8) : Opening and ending tag mismatch: rtEvent line 3 and rtevent``.

lxml parser objects must not be shared between threads, and building one costs about a tenth of
parsing a small envelope, so each thread keeps its own parser (and its compiled depth probes).
"""

from __future__ import annotations

import codecs
import re
import threading

from lxml import etree

from services.errors import HostileXml, InvalidRequest, MalformedXml, PayloadTooLarge

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_DEPTH", "parse_xml"]

#: Largest body accepted by default (DESIGN §3.1: 10 MiB).
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
#: Deepest element nesting accepted by default; the root element is at depth 1.
DEFAULT_MAX_DEPTH = 64

_UTF8_BOM = b"\xef\xbb\xbf"
# Checked in order: the UTF-32 marks start like the UTF-16 ones.
_BYTE_ORDER_MARKS = (
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\xfe\xff", "utf-16"),
    (b"\xff\xfe", "utf-16"),
)
# XML 1.0 Appendix F: '<?' without a byte order mark in the 16-bit encodings.
_UNMARKED_UTF16 = ((b"\x00<\x00?", "utf-16-be"), (b"<\x00?\x00", "utf-16-le"))
_MARK_STARTS = frozenset({b"\x00", b"\xfe", b"\xff", b"<"})
_UTF8_NAMES = frozenset({"utf-8", "utf8"})
_DECLARED_ENCODING = re.compile(
    rb"<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(?:'[^']*'|\"[^\"]*\")"
    rb"[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(?:'([A-Za-z][\w.-]*)'|\"([A-Za-z][\w.-]*)\")"
)
_SUPPORTED_CODEC = re.compile(
    r"utf-8|utf-16(-le|-be)?|utf-32(-le|-be)?|ascii|iso8859-\d{1,2}|cp125\d|koi8-[ru]"
    r"|shift_jis|euc_jp|euc_kr|gb2312|gbk|gb18030|big5"
)
# Whitespace, processing instructions (the XML declaration among them) and comments, each ending
# where libxml2 ends it (the first '?>' or '-->'); possessive, so no input makes it backtrack.
_PROLOG = re.compile(rb"(?:[ \t\r\n]++|<\?.*?\?>|<!--.*?-->)*+", re.DOTALL)
_LOCATION_SUFFIX = re.compile(r", line (\d+), column (\d+)$")

_HOSTILE_CODES = frozenset(
    {
        etree.ErrorTypes.ERR_UNDECLARED_ENTITY,
        etree.ErrorTypes.WAR_UNDECLARED_ENTITY,
        etree.ErrorTypes.ERR_ENTITY_LOOP,
        etree.ErrorTypes.ERR_ENTITY_PROCESSING,
        etree.ErrorTypes.ERR_RESOURCE_LIMIT,
    }
)


class _ThreadState(threading.local):
    def __init__(self) -> None:
        self.parser = etree.XMLParser(
            encoding="utf-8",  # overrides the declaration: _to_utf8 already transcoded
            resolve_entities=False,
            load_dtd=False,
            dtd_validation=False,
            no_network=True,
            huge_tree=False,
            collect_ids=False,
        )
        self.depth_probes: dict[int, etree.XPath] = {}

    def depth_probe(self, max_depth: int) -> etree.XPath:
        probe = self.depth_probes.get(max_depth)
        if probe is None:
            # True when an element sits one level below the cap.
            probe = etree.XPath("boolean(" + "/*" * (max_depth + 1) + ")")
            self.depth_probes[max_depth] = probe
        return probe


_state = _ThreadState()


def parse_xml(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = DEFAULT_MAX_DEPTH
) -> etree._Element:
    """Parse untrusted bytes into an element tree, refusing DTDs, entities, depth and size abuse."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"The XML document is larger than the limit of {max_bytes} bytes.",
            detail=f"{len(data)} bytes received, at most {max_bytes} accepted.",
        )
    utf8 = _to_utf8(data)
    _refuse_doctype(utf8)
    state = _state
    try:
        root = etree.fromstring(utf8, state.parser)
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc) from None
    if root.getroottree().docinfo.internalDTD is not None:  # unreachable after the prolog scan
        raise HostileXml("DTDs are not allowed in SOAP messages.", detail="(1:1) : DOCTYPE")
    # Each level of nesting takes a start tag, so a document with few '<' cannot be too deep.
    if utf8.count(b"<") > max_depth and state.depth_probe(max_depth)(root):
        raise HostileXml(
            "The XML document nests elements too deeply.",
            detail=f"elements are nested deeper than the limit of {max_depth} levels",
        )
    return root


def _to_utf8(data: bytes) -> bytes:
    if data.startswith(_UTF8_BOM):
        return data[len(_UTF8_BOM) :]
    codec = _marked_codec(data) if data[:1] in _MARK_STARTS else None
    if codec is None:
        match = _DECLARED_ENCODING.match(data)
        if match is None:
            return data  # no declaration: UTF-8, libxml2 checks it
        declared = (match.group(1) or match.group(2)).decode("ascii")
        if declared.lower() in _UTF8_NAMES:
            return data
        codec = _supported_codec(declared)
        if codec == "utf-8":
            return data
        if codec.startswith(("utf-16", "utf-32")):
            raise MalformedXml(
                "The XML document is not encoded as it declares.",
                detail=f"(1:1) : encoding '{declared}' declared, but the document is 8-bit text",
            )
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        raise MalformedXml(
            "The XML document is not encoded as it declares.",
            detail=f"byte {exc.start}: not valid {codec}: {exc.reason}",
        ) from None
    return text.removeprefix("\ufeff").encode("utf-8")


def _marked_codec(data: bytes) -> str | None:
    for mark, codec in _BYTE_ORDER_MARKS:
        if data.startswith(mark):
            return codec
    for start, codec in _UNMARKED_UTF16:
        if data.startswith(start):
            return codec
    return None


def _supported_codec(declared: str) -> str:
    try:
        codec = codecs.lookup(declared).name
    except LookupError:
        codec = ""
    if not _SUPPORTED_CODEC.fullmatch(codec):
        raise MalformedXml(
            "The XML document uses an unsupported encoding.",
            detail=f"(1:1) : unsupported encoding '{declared}'",
        )
    return codec


def _refuse_doctype(utf8: bytes) -> None:
    end = _PROLOG.match(utf8).end()  # type: ignore[union-attr]  # '*' always matches
    if utf8.startswith(b"<!", end):
        line = utf8.count(b"\n", 0, end) + 1
        column = end - (utf8.rfind(b"\n", 0, end) + 1) + 1
        raise HostileXml(
            "DTDs and entity declarations are not allowed in SOAP messages.",
            detail=f"({line}:{column}) : DOCTYPE refused before parsing",
        )


def _syntax_error(exc: etree.XMLSyntaxError) -> InvalidRequest:
    message = exc.msg or "not well-formed"
    line, column = exc.lineno, exc.offset
    suffix = _LOCATION_SUFFIX.search(message)
    if suffix:
        message = message[: suffix.start()]
        line, column = int(suffix.group(1)), int(suffix.group(2))
    detail = f"({line}:{column}) : {message}"
    if getattr(exc, "code", None) in _HOSTILE_CODES:
        return HostileXml("Entities and oversized structures are not allowed.", detail=detail)
    return MalformedXml("The XML document is not well formed.", detail=detail)
