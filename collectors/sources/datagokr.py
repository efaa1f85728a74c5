"""data.go.kr gateway and odcloud conventions shared by K-Startup and 보조금24 (formats.md §3).

Gateway errors are XML even when JSON was asked for, usually with HTTP 200. Code 22 is the
daily quota (stop until 00:00 KST); 03 is "no data" (an empty page); the key/access codes are
terminal; the rest are the gateway's own trouble and are retried.
"""

from __future__ import annotations

import json

from aegis.errors import ErrorCode, TerminalError, TransientError
from collectors.http.client import HttpResponse
from collectors.http.quota import QuotaExceededError
from collectors.parsing.xml import child_text, parse_xml

NO_DATA = "03"
QUOTA = "22"
_TERMINAL = {"10", "11", "12", "20", "21", "30", "31", "32", "33"}
_NAMES = {
    "01": "APPLICATION_ERROR", "02": "DB_ERROR", "03": "NODATA_ERROR", "04": "HTTP_ERROR",
    "05": "SERVICETIME_OUT", "10": "INVALID_REQUEST_PARAMETER_ERROR",
    "11": "NO_MANDATORY_REQUEST_PARAMETERS_ERROR", "12": "NO_OPENAPI_SERVICE_ERROR",
    "20": "SERVICE_ACCESS_DENIED_ERROR", "21": "TEMPORARILY_DISABLE_THE_SERVICEKEY_ERROR",
    "22": "LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR", "30": "SERVICE_KEY_IS_NOT_REGISTERED_ERROR",
    "31": "DEADLINE_HAS_EXPIRED_ERROR", "32": "UNREGISTERED_IP_ERROR", "33": "UNSIGNED_CALL_ERROR",
    "99": "UNKNOWN_ERROR",
}


class NoData(Exception):
    """Gateway code 03: the query matched nothing (not an error; an empty page)."""


def gateway_error_code(response: HttpResponse, what: str) -> tuple[str, str] | None:
    """``(code, name)`` when the body is the gateway's XML error envelope, else None."""
    body = response.content.lstrip()
    if not body.startswith(b"<") or b"OpenAPI_ServiceResponse" not in body[:400]:
        return None
    root = parse_xml(body, what=what)
    code = child_text(root, "cmmMsgHeader/returnReasonCode") or "99"
    name = child_text(root, "cmmMsgHeader/returnAuthMsg") or _NAMES.get(code, "UNKNOWN_ERROR")
    return code, name


def raise_for_gateway_error(response: HttpResponse, source: str, what: str, key_setting: str) -> None:
    """Turn a gateway XML error into the right error (see module docstring)."""
    found = gateway_error_code(response, what)
    if found is None:
        return
    code, name = found
    message = f"{what}: data.go.kr gateway error {code} {name}"
    if code == NO_DATA:
        raise NoData()
    if code == QUOTA:
        raise QuotaExceededError(message + " (daily quota used up)", code=ErrorCode.API_RATE_LIMIT_EXCEEDED,
                                 hint=f"{source} is left alone until the quota resets at 00:00 KST")
    if code in _TERMINAL:
        raise TerminalError(message, code=ErrorCode.DATA_SOURCE_UNAVAILABLE,
                            hint=f"check {key_setting} (use the decoded key, or the encoded one as issued, "
                                 "not encoded twice) and that the key is approved for this API")
    raise TransientError(message, code=ErrorCode.DATA_SOURCE_UNAVAILABLE,
                         hint="the gateway reported its own trouble; retried with backoff")


def raise_for_odcloud_error(response: HttpResponse, what: str, key_setting: str) -> None:
    """odcloud answers a bad key with HTTP 401 ``{"code": -4, "msg": ...}``."""
    if response.status_code in (401, 403):
        detail = ""
        try:
            body = json.loads(response.content)
            detail = f" (code {body.get('code')}: {body.get('msg')})"
        except (ValueError, AttributeError):
            pass
        raise TerminalError(f"{what}: HTTP {response.status_code} from odcloud{detail}",
                            code=ErrorCode.DATA_SOURCE_UNAVAILABLE,
                            hint=f"check {key_setting}: the key is not registered for this API")
    if response.status_code != 200:
        raise TerminalError(f"{what}: unexpected HTTP {response.status_code} from {response.location}",
                            code=ErrorCode.DATA_SOURCE_UNAVAILABLE, hint="check the source's base URL setting")
