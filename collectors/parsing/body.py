"""Response bodies as text, JSON or XML: every encoding and framing the sources use (formats.md §8).

* **Charset.** A byte-order mark wins; then the charset of the HTTP ``Content-Type``; then an
  XML prolog (``<?xml ... encoding="EUC-KR"?>``) or an HTML ``<meta charset>`` /
  ``<meta http-equiv="Content-Type" content="...; charset=...">`` near the start; then UTF-8.
  EUC-KR and its aliases are read as CP949 (its superset: the extra Hangul syllables Korean sites
  really send). Undeclared bytes that are not UTF-8 but are CP949 are read as CP949.
* **Framing.** A UTF-8 BOM and leading whitespace are ignored before JSON and XML.
* **Structure.** JSON or XML nested deeper than ``MAX_BODY_DEPTH`` is a coded error (DP_1004),
  never a ``RecursionError``; XML goes through ``defusedxml`` (no entities, no DTD fetching).

Every failure here is an ``AegisError`` with code DP_1004: a cut-off or malformed body is
``TransientError`` (worth one more try), a body that is well-formed but unusable is
``TerminalError``.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from aegis.errors import ErrorCode, TerminalError, TransientError

MAX_BODY_DEPTH = 200   # JSON/XML nesting a response may have at all (json's C parser recurses)
_SNIFF_BYTES = 2048
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_KOREAN_ALIASES = {"euc-kr", "euckr", "euc_kr", "ks_c_5601-1987", "ks_c_5601", "ksc5601", "ksc_5601", "korean",
                   "x-windows-949", "windows-949", "cp949", "ms949", "uhc", "x-euc-kr"}
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.I)
_XML_PROLOG = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.I)
_PROLOG_ENCODING = re.compile(r"^(\s*<\?xml[^>]*?encoding\s*=\s*)([\"'])[^\"']*\2", re.I)
_WHITESPACE = b" \t\r\n\f\v"


def _codec(label: str | None) -> str | None:
    """A Python codec name for a charset label, or None when it is unknown."""
    if not label:
        return None
    name = label.strip().lower()
    if name in _KOREAN_ALIASES:
        return "cp949"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def declared_charset(content: bytes, content_type: str | None = None) -> str | None:
    """The charset the body declares (BOM, HTTP header, XML prolog, HTML meta), as a codec name."""
    for bom, name in _BOMS:
        if content.startswith(bom):
            return name
    if content_type and (match := _HEADER_CHARSET.search(content_type)) and (codec := _codec(match[1])):
        return codec
    head = content[:_SNIFF_BYTES]
    for pattern in (_XML_PROLOG, _META_CHARSET):
        if (declared := pattern.search(head)) and (codec := _codec(declared[1].decode("ascii", "ignore"))):
            return codec
    return None


def decode_text(content: bytes, content_type: str | None = None) -> str:
    """``content`` as text in its declared charset (see module docstring); never raises."""
    declared = declared_charset(content, content_type)
    if declared is not None:
        if declared == "utf-8":
            declared = "utf-8-sig"
        try:
            return content.decode(declared)
        except (UnicodeDecodeError, LookupError):
            pass  # a wrong declaration: fall through to the undeclared rule
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("cp949")
    except UnicodeDecodeError:
        return content.decode("utf-8", errors="replace")


def content_type_of(headers: Mapping[str, str] | None) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == "content-type":
            return value
    return None


def body_start(content: bytes) -> bytes:
    """The first significant bytes: after a UTF-8 BOM and whitespace (to tell JSON from XML)."""
    start = content[:_SNIFF_BYTES]
    if start.startswith(codecs.BOM_UTF8):
        start = start[len(codecs.BOM_UTF8):]
    return start.lstrip(_WHITESPACE)


def looks_like_xml(content: bytes) -> bool:
    return body_start(content).startswith(b"<")


def depth_exceeds(value: Any, limit: int) -> bool:
    """True when ``value`` (JSON data) nests containers deeper than ``limit``; iterative, never recursive."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(current, dict):
            children = current.values()
        elif isinstance(current, list):
            children = current
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def parse_json(content: bytes, what: str, content_type: str | None = None) -> Any:
    """The JSON body (BOM, whitespace and charset handled), or DP_1004."""
    text = decode_text(content, content_type).lstrip("\ufeff").strip()
    if not text:
        raise TransientError(f"{what}: the response body is empty ({len(content)} bytes)",
                             code=ErrorCode.INVALID_DATA_FORMAT,
                             hint="the source answered without content; retried, then the source is skipped")
    try:
        value = json.loads(text)
    except RecursionError:
        raise TerminalError(f"{what}: JSON nested too deeply to read ({len(content):,} bytes)",
                            code=ErrorCode.INVALID_DATA_FORMAT,
                            hint="the source sent a pathological body; nothing of this page was stored") from None
    except ValueError as exc:
        raise TransientError(f"{what}: response is not valid JSON ({type(exc).__name__} at "
                             f"{getattr(exc, 'pos', '?')} of {len(content)} bytes)",
                             code=ErrorCode.INVALID_DATA_FORMAT,
                             hint="the body was cut off or is not JSON; retried, then the source is skipped") from None
    if depth_exceeds(value, MAX_BODY_DEPTH):
        raise TerminalError(f"{what}: JSON nested deeper than {MAX_BODY_DEPTH} levels",
                            code=ErrorCode.INVALID_DATA_FORMAT,
                            hint="the source sent a pathological body; nothing of this page was stored")
    return value


def parse_xml(content: bytes | str, what: str, content_type: str | None = None) -> Element:
    """The XML document's root, or DP_1004: malformed XML, entity tricks, or too deep.

    The body is decoded first (expat cannot read EUC-KR/CP949 itself), and the prolog's
    ``encoding`` is rewritten to match the text that is actually parsed."""
    text = content if isinstance(content, str) else decode_text(content, content_type)
    text = _PROLOG_ENCODING.sub(r"\1\2UTF-8\2", text.lstrip("\ufeff").lstrip(), count=1)
    try:
        root = SafeET.fromstring(text, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise TransientError(f"{what}: XML refused as unsafe ({type(exc).__name__})",
                             code=ErrorCode.INVALID_DATA_FORMAT,
                             hint="the source sent entity declarations; nothing was stored from this response",
                             ) from None
    except SafeET.ParseError as exc:
        raise TransientError(f"{what}: malformed XML ({exc})", code=ErrorCode.INVALID_DATA_FORMAT,
                             hint="the response was cut off or is not XML; it is retried, then the source is skipped",
                             ) from None
    except (ValueError, RecursionError) as exc:
        raise TerminalError(f"{what}: XML cannot be read ({type(exc).__name__})", code=ErrorCode.INVALID_DATA_FORMAT,
                            hint="the source sent a body this reader cannot decode; nothing of this page was stored",
                            ) from None
    if _xml_depth_exceeds(root, MAX_BODY_DEPTH):
        raise TerminalError(f"{what}: XML nested deeper than {MAX_BODY_DEPTH} levels",
                            code=ErrorCode.INVALID_DATA_FORMAT,
                            hint="the source sent a pathological body; nothing of this page was stored")
    return root


def _xml_depth_exceeds(root: Element, limit: int) -> bool:
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in element)
    return False


def local_name(tag: Any) -> str:
    """``{namespace}name`` -> ``name`` (comments and processing instructions have no name)."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def xml_to_data(element: Element) -> Any:
    """An XML element as JSON-like data, the way data.go.kr's JSON mirrors its XML: an element with
    children is an object (a repeated child name becomes a list), a leaf is its stripped text
    (``None`` when empty). Attributes are ignored. Iterative: depth is bounded by ``parse_xml``."""
    result: dict[int, Any] = {}
    order: list[Element] = []
    stack = [element]
    while stack:  # children before parents: collect in pre-order, build in reverse
        current = stack.pop()
        order.append(current)
        stack.extend(current)
    for current in reversed(order):
        children = [c for c in current if local_name(c.tag)]
        if not children:
            text = (current.text or "").strip()
            result[id(current)] = text or None
            continue
        data: dict[str, Any] = {}
        for child in children:
            name, value = local_name(child.tag), result.pop(id(child))
            if name not in data:
                data[name] = value
            elif isinstance(data[name], list):  # a child value is never a list itself: this one is repeats
                data[name].append(value)
            else:
                data[name] = [data[name], value]
        result[id(current)] = data
    return result[id(element)]
