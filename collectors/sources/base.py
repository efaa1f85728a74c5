"""What every source provides: pages of raw items, and a mapping of one item to a ``PolicyRecord``."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator
from enum import Enum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from aegis.errors import DataError, ErrorCode
from aegis.models.policy import PolicyRecord
from collectors.http.client import SourceHttpClient
from collectors.models import FetchedPage, MappedPage, RawItem, Rejection


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
        records, rejections = [], []
        for item in page.items:
            try:
                records.append(self.map_item(item))
            except DataError as exc:
                rejections.append(Rejection(source_id=item.source_id, error_code=exc.code.value,
                                            reason=exc.message, raw_payload=item.payload))
        return MappedPage(number=page.number, records=records, rejections=rejections)

    def close(self) -> None:
        """Release connections (HTTP clients); called once after the pass."""


class ApiSource(Source, ABC):
    """A source reached over HTTP with ``SourceHttpClient``."""

    def __init__(self, endpoint: Endpoint, client: SourceHttpClient):
        self.endpoint = endpoint
        self.client = client
        self.using_samples = endpoint.using_samples

    def close(self) -> None:
        self.client.close()


def build_record(source_system: str, source_id: str | None, **fields: Any) -> PolicyRecord:
    """``PolicyRecord(...)`` with pydantic's errors turned into one DP_2001 ``DataError``."""
    if not source_id:
        raise DataError(f"{source_system}: record has no source id", code=ErrorCode.VALIDATION_FAILED,
                        hint="kept in dead_letters with its raw payload")
    try:
        return PolicyRecord(source_system=source_system, source_id=source_id, **_without_nul(fields))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise DataError(f"{source_system} {source_id}: {problems}", code=ErrorCode.VALIDATION_FAILED,
                        hint="kept in dead_letters with its raw payload") from None


def text_or_none(value: Any) -> str | None:
    """A trimmed string, or None for null/empty/whitespace."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def without_keys(payload: dict[str, Any], volatile: frozenset[str]) -> dict[str, Any]:
    """The raw payload minus volatile counters (view counts, list positions) that are not content."""
    return {k: v for k, v in payload.items() if k not in volatile}


def as_int(value: Any) -> int | None:
    """``value`` as an int (numbers as strings included), or None."""
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _without_nul(value: Any) -> Any:
    """PostgreSQL text and jsonb cannot hold U+0000; some sources send it inside text."""
    if isinstance(value, dict) and "\\u0000" not in json.dumps(value, default=str):
        return value  # the common case, checked in C
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {k: _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value
