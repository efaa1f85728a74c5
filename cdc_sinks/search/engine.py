"""One small interface over the two search clients (``SEARCH_ENGINE`` picks one).

The ``elasticsearch`` client refuses to talk to OpenSearch (product check) and ``opensearch-py``
is OpenSearch's own, so each engine wraps its own client; the sink only sees ``SearchEngine``.
Client exceptions are translated by ``errors.translate_status``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import orjson

from aegis.errors import TerminalError, TransientError

BulkLine = dict[str, Any] | bytes
"""One line of a bulk request: an action or a document, or a document already serialized."""


class SearchEngine(ABC):
    """What the search sink needs from an engine."""

    kind: str = ""

    @abstractmethod
    def info(self) -> dict[str, Any]: ...

    def ping(self) -> bool:
        try:
            self.info()
            return True
        except (TransientError, TerminalError):
            return False

    @abstractmethod
    def tokenizer_available(self, tokenizer: str) -> bool: ...

    @abstractmethod
    def index_exists(self, index: str) -> bool: ...

    @abstractmethod
    def create_index(self, index: str, body: dict[str, Any]) -> None:
        """Create ``index``; one that already exists is no error (members of one sink starting together
        race to create it)."""

    @abstractmethod
    def delete_index(self, index: str) -> None: ...

    @abstractmethod
    def alias_targets(self, alias: str) -> list[str]: ...

    @abstractmethod
    def update_aliases(self, actions: list[dict[str, Any]]) -> None: ...

    @abstractmethod
    def bulk(self, operations: Sequence[BulkLine], refresh: str) -> list[dict[str, Any]]:
        """Send a bulk request; returns the per-item results (``{"index": {...}}`` each), holding only
        ``BULK_ITEM_FIELDS``."""

    @abstractmethod
    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]: ...

    @abstractmethod
    def count(self, index: str, query: dict[str, Any] | None = None) -> int: ...

    @abstractmethod
    def refresh(self, index: str) -> None: ...

    @abstractmethod
    def add_fields(self, index: str, properties: dict[str, Any]) -> None:
        """Add fields to an existing index's mapping (additive only: the engine refuses a changed type)."""

    @abstractmethod
    def set_refresh_interval(self, index: str, interval: str) -> None:
        """Change an existing index's refresh interval (a dynamic setting: no reindex, no restart)."""

    @abstractmethod
    def reindex(self, source: str, dest: str) -> dict[str, Any]:
        """Copy ``source`` into ``dest`` keeping external versions (newer documents in dest win)."""

    @abstractmethod
    def close(self) -> None: ...


ALREADY_EXISTS = "resource_already_exists_exception"
"""The engine's error type for an index created by someone else first."""

BULK_ITEM_FIELDS = "items.*._id,items.*.status,items.*.error"
"""What a bulk answer keeps of each item (``filter_path``): what the sink reads, not the index,
version, shards and sequence numbers of every item, which the sink's client would parse for nothing."""


def ndjson(operations: Sequence[BulkLine]) -> bytes:
    """A bulk request body: one JSON document per line (orjson: ~3x the clients' stdlib serializer)."""
    return b"\n".join(line if isinstance(line, bytes) else orjson.dumps(line) for line in operations) + b"\n"
