"""data.go.kr gateway and odcloud conventions shared by K-Startup, 보조금24 and every configured
공공데이터포털 API (formats.md §3, §8).

A body is read as XML or JSON, whichever it is (gateway errors are XML even when JSON was asked
for), with or without a UTF-8 BOM or leading whitespace, in any declared charset. Then:

* the gateway error envelope ``OpenAPI_ServiceResponse/cmmMsgHeader/returnReasonCode`` and the
  classic envelope's ``response/header/resultCode`` are recognised, in XML and in JSON;
  code 22 is the daily quota (stop until 00:00 KST); 03 is "no data" (an empty page); the
  key/parameter codes are terminal; the rest are the gateway's own trouble and are retried;
* odcloud's bad-key answer is HTTP 401 ``{"code": -4, "msg": ...}``;
* the list is found in odcloud's ``data`` or the classic ``response/body/items/item`` (or a
  configured path), in every envelope of ``collectors.sources.envelope``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from aegis.errors import AegisError, ErrorCode, TerminalError, TransientError
from collectors.http.client import HttpResponse
from collectors.http.quota import QuotaExceededError
from collectors.models import FetchedPage, RawItem
from collectors.parsing.body import local_name, looks_like_xml, xml_to_data
from collectors.sources.base import ApiSource, as_int
from collectors.sources.envelope import describe, follow, items_in, raw_items
from collectors.sources.fields import source_id_of
from collectors.sources.responses import json_body, xml_root

NORMAL = "00"
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
_CODES = {name: code for code, name in _NAMES.items()}
CLASSIC_ITEMS = ("response", "body", "items")
CLASSIC_TOTAL = ("response", "body", "totalCount")


class NoData(Exception):
    """Gateway code 03: the query matched nothing (not an error; an empty page)."""


@dataclass(frozen=True)
class GatewayCode:
    code: str
    name: str
    message: str | None = None


def read_body(response: HttpResponse, what: str) -> Any:
    """The body as data: JSON as is, XML as ``{root name: xml_to_data(root)}``; DP_1004 when neither."""
    if looks_like_xml(response.content):
        root = xml_root(response, what)
        return {local_name(root.tag): xml_to_data(root)}
    return json_body(response, what)


def _code(value: Any) -> str | None:
    text = source_id_of(value)
    if text is None:
        return None
    return text.zfill(2) if text.isdigit() and len(text) < 2 else text


def gateway_code(data: Any) -> GatewayCode | None:
    """The gateway's answer code when ``data`` is its error envelope or a classic envelope, else None."""
    if not isinstance(data, dict):
        return None
    found, header = follow(data, ("OpenAPI_ServiceResponse", "cmmMsgHeader"))
    if not found:
        found, header = follow(data, ("cmmMsgHeader",))
    if found and isinstance(header, dict):
        name = source_id_of(header.get("returnAuthMsg")) or source_id_of(header.get("errMsg"))
        code = _code(header.get("returnReasonCode")) or _CODES.get(name or "", "99")
        return GatewayCode(code, name or _NAMES.get(code, "UNKNOWN_ERROR"), source_id_of(header.get("errMsg")))
    for path in (("response", "header"), ("header",)):
        found, header = follow(data, path)
        if found and isinstance(header, dict) and "resultCode" in header:
            code = _code(header.get("resultCode")) or "99"
            message = source_id_of(header.get("resultMsg"))
            return GatewayCode(code, _NAMES.get(code, message or "UNKNOWN_ERROR"), message)
    return None


def raise_for_gateway(found: GatewayCode, source: str, what: str, key_setting: str) -> None:
    """Turn a gateway code into the right error (see module docstring); return on a normal answer."""
    if found.code in (NORMAL, "0", "000", "0000"):
        return
    message = f"{what}: data.go.kr gateway error {found.code} {found.name}"[:500]
    if found.code == NO_DATA:
        raise NoData()
    if found.code == QUOTA:
        raise QuotaExceededError(message + " (daily quota used up)", code=ErrorCode.API_RATE_LIMIT_EXCEEDED,
                                 hint=f"{source} is left alone until the quota resets at 00:00 KST")
    if found.code in _TERMINAL:
        raise TerminalError(message, code=ErrorCode.DATA_SOURCE_UNAVAILABLE,
                            hint=f"check {key_setting} (use the decoded key, or the encoded one as issued, "
                                 "not encoded twice) and that the key is approved for this API")
    raise TransientError(message, code=ErrorCode.DATA_SOURCE_UNAVAILABLE,
                         hint="the gateway reported its own trouble; retried with backoff")


def raise_for_odcloud(response: HttpResponse, data: Any, what: str, key_setting: str) -> None:
    """odcloud answers a bad key with HTTP 401 ``{"code": -4, "msg": ...}`` (and other negative codes)."""
    detail = ""
    if isinstance(data, dict) and "code" in data and "msg" in data:
        detail = f" (code {source_id_of(data.get('code'))}: {str(data.get('msg'))[:200]})"
    if response.status_code in (401, 403):
        raise TerminalError(f"{what}: HTTP {response.status_code} from odcloud{detail}",
                            code=ErrorCode.DATA_SOURCE_UNAVAILABLE,
                            hint=f"check {key_setting}: the key is not registered for this API")
    if response.status_code != 200:
        raise TerminalError(f"{what}: unexpected HTTP {response.status_code} from {response.location}{detail}",
                            code=ErrorCode.DATA_SOURCE_UNAVAILABLE, hint="check the source's base URL setting")
    code = as_int(data.get("code")) if isinstance(data, dict) and "data" not in data else None
    if code is not None and code < 0:
        raise TerminalError(f"{what}: odcloud refused the request{detail}", code=ErrorCode.DATA_SOURCE_UNAVAILABLE,
                            hint=f"check {key_setting} and the request parameters")


@dataclass(frozen=True)
class Listing:
    """One page of a data.go.kr API: its items (raw values) and the total the source states."""

    items: list[Any]
    total: int | None


def read_listing(response: HttpResponse, what: str, *, source: str, key_setting: str,
                 looks_like_item: Callable[[dict[str, Any]], bool],
                 items_path: Sequence[str] | None = None, total_path: Sequence[str] | None = None) -> Listing:
    """A page of any data.go.kr API: gateway errors raised, the list found in any envelope."""
    if response.status_code != 200:  # an error page: say what it says if it can be read, else its status
        try:
            data = read_body(response, what)
        except AegisError:
            data = None
    else:
        data = read_body(response, what)
    found = gateway_code(data)
    if found is not None:
        try:
            raise_for_gateway(found, source, what, key_setting)
        except NoData:
            return Listing([], 0)
    raise_for_odcloud(response, data, what, key_setting)
    if items_path:
        present, listing = follow(data, items_path)
        total = _total(data, total_path)
    elif isinstance(data, dict) and "data" in data:  # odcloud: {page, perPage, totalCount, matchCount, data}
        present, listing = True, data["data"]
        total = as_int(data.get("matchCount"))
        if total is None:
            total = as_int(data.get("totalCount"))
    else:
        present, listing = follow(data, CLASSIC_ITEMS)
        total = _total(data, total_path or CLASSIC_TOTAL)
    if not present and total == 0:  # an empty result may leave `items` out altogether
        return Listing([], 0)
    if not present:
        raise TerminalError(f"{what}: unexpected response shape: {describe(data)} "
                            f"(no {'/'.join(items_path or CLASSIC_ITEMS)} and no odcloud 'data')",
                            code=ErrorCode.INVALID_DATA_FORMAT,
                            hint="the source changed its format, or the configured items path is wrong")
    return Listing(items_in(listing, what, looks_like_item=looks_like_item), total)


def _total(data: Any, path: Sequence[str] | None) -> int | None:
    if not path:
        return None
    present, value = follow(data, path)
    return as_int(value) if present else None


class DataGoKrSource(ApiSource):
    """A built-in data.go.kr / odcloud listing: ``serviceKey``, ``page``, ``perPage`` and ``returnType``,
    read with ``read_listing``. A subclass names its path, key setting, id field and item shape."""

    path: ClassVar[str]
    key_setting: ClassVar[str]
    id_field: ClassVar[str]
    return_type: ClassVar[str] = "json"
    looks_like_item: ClassVar[Callable[[dict[str, Any]], bool]]

    def pages(self) -> Iterator[FetchedPage]:
        return self.paged(self._page)

    def _page(self, number: int) -> tuple[list[RawItem], int | None]:
        params = {"serviceKey": self.endpoint.api_key or "", "page": number,
                  "perPage": self.endpoint.page_size, "returnType": self.return_type}
        listing: Listing = self.client.get(self.endpoint.base_url + self.path, params, self._interpret,
                                           what=f"page {number}")
        return raw_items(listing.items, lambda r: r.get(self.id_field)), listing.total

    def _interpret(self, response: HttpResponse) -> Listing:
        return read_listing(response, f"{self.name} {response.location}", source=self.name,
                            key_setting=self.key_setting, looks_like_item=type(self).looks_like_item)
