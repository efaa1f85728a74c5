"""Decoding a response body into JSON with clear DP_1004 errors."""

from __future__ import annotations

import json
from typing import Any

from aegis.errors import ErrorCode, TerminalError, TransientError
from collectors.http.client import HttpResponse


def decode_json(response: HttpResponse, what: str) -> Any:
    """The JSON body, or DP_1004 (retried: a cut-off body is usually a transient failure)."""
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise TransientError(f"{what}: response is not valid JSON ({type(exc).__name__} at "
                             f"{getattr(exc, 'pos', '?')} of {len(response.content)} bytes)",
                             code=ErrorCode.INVALID_DATA_FORMAT,
                             hint="the body was cut off or is not JSON; retried, then the source is skipped") from None


def expect_object(value: Any, what: str, required: str) -> dict[str, Any]:
    """``value`` as a JSON object that has ``required``, else DP_1004."""
    if not isinstance(value, dict) or required not in value:
        raise TerminalError(f"{what}: unexpected response shape (no {required!r})",
                            code=ErrorCode.INVALID_DATA_FORMAT,
                            hint="the source changed its format; the collector needs updating")
    return value
