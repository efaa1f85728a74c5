"""Safe XML parsing (defusedxml: no entity expansion, no external entities, no DTD fetching)."""

from __future__ import annotations

from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from aegis.errors import ErrorCode, TransientError


def parse_xml(body: bytes | str, *, what: str) -> Element:
    """Parse ``body`` or raise DP_1004: malformed XML, or XML that tries entity tricks."""
    try:
        return SafeET.fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise TransientError(f"{what}: XML refused as unsafe ({type(exc).__name__})",
                             code=ErrorCode.INVALID_DATA_FORMAT,
                             hint="the source sent entity declarations; nothing was stored from this response") from None
    except SafeET.ParseError as exc:
        raise TransientError(f"{what}: malformed XML ({exc})", code=ErrorCode.INVALID_DATA_FORMAT,
                             hint="the response was cut off or is not XML; it is retried, then the source is skipped") from None


def child_text(element: Element, path: str, namespaces: dict[str, str] | None = None) -> str | None:
    """Text of the first ``path`` under ``element`` (stripped), or None."""
    found = element.find(path, namespaces or {})
    if found is None or found.text is None:
        return None
    return found.text.strip() or None
