"""Reading a response body as JSON, with clear DP_1004 errors (see ``collectors.parsing.body``)."""

from __future__ import annotations

from typing import Any

from aegis.errors import ErrorCode, TerminalError
from collectors.http.client import HttpResponse
from collectors.parsing.body import content_type_of, parse_json, parse_xml


def json_body(response: HttpResponse, what: str) -> Any:
    """The JSON body (any charset, BOM or leading whitespace), or DP_1004."""
    return parse_json(response.content, what, content_type_of(response.headers))


def xml_root(response: HttpResponse, what: str):
    """The XML body's root element (any declared charset, BOM or leading whitespace), or DP_1004."""
    return parse_xml(response.content, what, content_type_of(response.headers))


def expect_object(value: Any, what: str, required: str) -> dict[str, Any]:
    """``value`` as a JSON object that has ``required``, else DP_1004."""
    if not isinstance(value, dict) or required not in value:
        raise TerminalError(f"{what}: unexpected response shape (no {required!r})",
                            code=ErrorCode.INVALID_DATA_FORMAT,
                            hint="the source changed its format; the collector needs updating")
    return value
