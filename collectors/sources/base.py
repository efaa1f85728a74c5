"""What every source provides: pages of raw items, and a mapping of one item to a ``PolicyRecord``."""

from __future__ import annotations

import json
import logging
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from enum import Enum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from aegis.errors import DataError, ErrorCode, TerminalError
from aegis.models.policy import PolicyRecord
from collectors.http.client import SourceHttpClient
from collectors.models import FetchedPage, MappedPage, RawItem, Rejection
from collectors.parsing.body import depth_exceeds
from collectors.sources.envelope import NOT_AN_OBJECT, describe
from collectors.sources.limits import check_record_size, fit_fields, payload_excerpt

log = logging.getLogger(__name__)
MAX_ITEM_DEPTH = 32  # nesting one item may have; deeper is rejected before anything walks it


class SourceKind(str, Enum):
    API = "api"      # collected every COLLECTION_INTERVAL_HOURS
    BOARD = "board"  # web boards: scraped daily at 00:00 KST


class Endpoint(BaseModel):
    """Where and how a source is reached, resolved from settings (see ``registry.resolve_endpoint``)."""

    model_config = ConfigDict(frozen=True)

    base_url: str
    api_key: str | None  # the secret itself; never log this model
    using_samples: bool
    page_size: int
    max_pages: int

    def __repr__(self) -> str:  # keep the key out of reprs and tracebacks
        return f"Endpoint(base_url={self.base_url!r}, using_samples={self.using_samples})"

    __str__ = __repr__


class Source(ABC):
    """A source of policies. ``name`` is also the stored ``source_system``."""

    name: ClassVar[str]
    kind: ClassVar[SourceKind] = SourceKind.API
    using_samples: bool = False  # collected from the local sample server, not the live source

    @abstractmethod
    def pages(self) -> Iterator[FetchedPage]:
        """Fetch the whole listing, page by page, to the end. Raises ``AegisError`` (DP_1xxx) on failure."""

    @abstractmethod
    def map_item(self, item: RawItem) -> PolicyRecord:
        """Normalise one raw item. Raises ``DataError`` (DP_2xxx) when it cannot be a valid policy."""

    def map_page(self, page: FetchedPage) -> MappedPage:
        """Map every item of ``page``; invalid ones become ``Rejection``s, the rest carry on."""
        records: list[PolicyRecord] = []
        rejections: list[Rejection] = []
        for item in page.items:
            outcome = self.map_one(item)
            if isinstance(outcome, PolicyRecord):
                records.append(outcome)
            else:
                rejections.append(outcome)
        return MappedPage(number=page.number, records=records, rejections=rejections)

    def map_one(self, item: RawItem) -> PolicyRecord | Rejection:
        """One item as a record, or its rejection (DP_2xxx): whatever the item holds, never an exception.

        Before ``map_item`` the payload is bounded (nesting at most ``MAX_ITEM_DEPTH``) and cleaned
        of what PostgreSQL cannot store (U+0000, lone surrogates), so the rejection itself can be
        stored too."""
        payload = item.payload
        try:
            if depth_exceeds(payload, MAX_ITEM_DEPTH):
                raise DataError(f"item nested deeper than {MAX_ITEM_DEPTH} levels", code=ErrorCode.VALIDATION_FAILED,
                                hint="kept in dead_letters (an excerpt of its raw payload)")
            payload = storable(payload)
            if NOT_AN_OBJECT in payload:
                value = payload[NOT_AN_OBJECT]
                raise DataError(f"list entry is not an object but {describe(value)}", code=ErrorCode.VALIDATION_FAILED,
                                hint="kept in dead_letters with its raw value")
            return self.map_item(item.model_copy(update={"payload": payload}))
        except DataError as exc:
            return self._rejection(item, payload, exc.code.value, exc.message)
        except Exception as exc:  # a mapping bug must cost this item only, and be visible
            log.exception("record mapping failed unexpectedly", extra={
                "source": self.name, "source_id": item.source_id, "code": ErrorCode.VALIDATION_FAILED.value})
            return self._rejection(item, payload, ErrorCode.VALIDATION_FAILED.value,
                                   f"unexpected {type(exc).__name__} while mapping (a collector bug): {exc}"[:1000])

    def _rejection(self, item: RawItem, payload: dict[str, Any], code: str, reason: str) -> Rejection:
        try:
            kept = payload_excerpt(storable(payload))
        except (RecursionError, ValueError, TypeError):
            kept = {"_aegis_excerpt": "(payload could not be serialised)"}
        source_id = item.source_id[:255] if item.source_id else None
        return Rejection(source_id=storable(source_id), error_code=code, reason=storable(reason), raw_payload=kept)

    def close(self) -> None:  # noqa: B027 - an optional hook: a source without connections has nothing to release
        """Release connections (HTTP clients); called once after the pass."""


class ApiSource(Source, ABC):
    """A source reached over HTTP with ``SourceHttpClient``."""

    def __init__(self, endpoint: Endpoint, client: SourceHttpClient):
        self.endpoint = endpoint
        self.client = client
        self.using_samples = endpoint.using_samples

    def close(self) -> None:
        self.client.close()

    def paged(self, fetch_page: Callable[[int], tuple[list[RawItem], int | None]]) -> Iterator[FetchedPage]:
        """The paged APIs' one listing loop: ``fetch_page(number)`` gives a page's items and the total
        the source states; pages 1 to ``max_pages`` until that total is reached or a page comes back
        short or empty (an empty first page while the source states records is DP_1004)."""
        seen = 0
        for number in range(1, self.endpoint.max_pages + 1):
            items, total = fetch_page(number)
            check_first_page(self.name, number, len(items), total)
            if not items:
                return
            seen += len(items)
            yield FetchedPage(number=number, total=total, items=items)
            if (total is not None and seen >= total) or len(items) < self.endpoint.page_size:
                return


def check_first_page(source: str, number: int, count: int, total: int | None) -> None:
    """A first page without items while the source states it has some is DP_1004, not an empty
    listing: a response that silently yields zero records is an error, not success."""
    if number == 1 and count == 0 and total is not None and total > 0:
        raise TerminalError(f"{source} page 1: the source states {total:,} records but the page holds none",
                            code=ErrorCode.INVALID_DATA_FORMAT,
                            hint="the source changed its format or its paging; nothing was stored")


def build_record(source_system: str, source_id: str | None, **fields: Any) -> PolicyRecord:
    """``PolicyRecord(...)`` cut to the size limits (``collectors.sources.limits``), with pydantic's
    errors turned into one DP_2001 ``DataError`` and an oversized record into DP_2004."""
    if not source_id:
        raise DataError(f"{source_system}: record has no source id", code=ErrorCode.VALIDATION_FAILED,
                        hint="kept in dead_letters with its raw payload")
    try:
        record = PolicyRecord(source_system=source_system, source_id=source_id, **fit_fields(storable(fields)))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise DataError(f"{source_system} {source_id}: {problems}"[:2000], code=ErrorCode.VALIDATION_FAILED,
                        hint="kept in dead_letters with its raw payload") from None
    return check_record_size(record)


def without_keys(payload: dict[str, Any], volatile: frozenset[str]) -> dict[str, Any]:
    """The raw payload minus volatile counters (view counts, list positions) that are not content."""
    return {k: v for k, v in payload.items() if k not in volatile}


def as_int(value: Any) -> int | None:
    """``value`` as an int (numbers as strings included), or None; never raises."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, (int, str)):
        try:
            return int(str(value).strip())
        except ValueError:
            return None
    return None


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: Any) -> Any:
    """``value`` without what PostgreSQL text and jsonb cannot hold: U+0000 (some sources send it)
    and lone surrogates (``"\\udcff"`` escapes in JSON). Cheap when there is nothing to clean."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("", value) if _UNSTORABLE.search(value) else value
    if isinstance(value, (dict, list)):
        try:  # NUL is written as the escape "\\u0000"; a lone surrogate stays a character: both found in C
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (ValueError, RecursionError):
            text = "\\u0000"
        if "\\u0000" not in text and not _UNSTORABLE.search(text):
            return value  # the common case
        if isinstance(value, dict):
            return {storable(str(k)): storable(v) for k, v in value.items()}
        return [storable(v) for v in value]
    return value
