"""``SearchEngine`` over ``opensearch-py`` (OpenSearch 2.x; the local stack's engine)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import orjson
from opensearchpy import JSONSerializer, OpenSearch
from opensearchpy import exceptions as os_errors

from aegis.errors import ConfigError
from aegis.settings import SearchSettings
from cdc_sinks.search.engine import ALREADY_EXISTS, BULK_ITEM_FIELDS, BulkLine, SearchEngine, ndjson
from cdc_sinks.search.errors import translate_status

T = TypeVar("T")
ADMIN_TIMEOUT = 60  # index and alias changes wait for the cluster state: slower than writes


class _OrjsonAnswers(JSONSerializer):
    """The client's serializer, reading answers with orjson (the stdlib parser took ~7 % of the search
    sink's CPU in a profile at 1,000 changes/s)."""

    def loads(self, s: str) -> Any:
        try:
            return orjson.loads(s)
        except ValueError as exc:  # what the stdlib serializer raises for an answer that is not JSON
            raise os_errors.SerializationError(s, exc) from None


class OpenSearchEngine(SearchEngine):
    kind = "opensearch"

    def __init__(self, search: SearchSettings):
        # the client logs every 404/400 answer (alias lookups, the nori probe) as a warning: expected here
        logging.getLogger("opensearch").setLevel(logging.ERROR)
        if search.api_key:
            raise ConfigError("SEARCH_API_KEY is set, but OpenSearch has no API keys",
                              hint="use SEARCH_USERNAME and SEARCH_PASSWORD (basic auth), "
                                   "or SEARCH_ENGINE=elasticsearch")
        auth = (search.username, search.password.get_secret_value()) if search.username and search.password else None
        self.client = OpenSearch(hosts=[search.url], http_auth=auth, timeout=search.request_timeout_seconds,
                                 max_retries=0, retry_on_timeout=False, verify_certs=search.verify_certs,
                                 ca_certs=str(search.ca_certs) if search.ca_certs else None, http_compress=False,
                                 serializer=_OrjsonAnswers())

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except (os_errors.ConnectionError, os_errors.ConnectionTimeout) as exc:
            raise translate_status(None, what, str(exc)[:500]) from None
        except os_errors.TransportError as exc:
            status = exc.status_code if isinstance(exc.status_code, int) else None
            raise translate_status(status, what, f"{exc.error}: {str(exc.info)[:500]}") from None

    def info(self) -> dict[str, Any]:
        return self._call("info", lambda: self.client.info())

    def tokenizer_available(self, tokenizer: str) -> bool:
        try:
            self.client.indices.analyze(body={"tokenizer": tokenizer, "text": "정책"})
            return True
        except os_errors.RequestError:
            return False
        except os_errors.TransportError as exc:
            raise translate_status(exc.status_code if isinstance(exc.status_code, int) else None,
                                   "analyze", str(exc)) from None

    def index_exists(self, index: str) -> bool:
        return bool(self._call("index exists", lambda: self.client.indices.exists(index=index)))

    def create_index(self, index: str, body: dict[str, Any]) -> None:
        def create() -> None:
            try:
                self.client.indices.create(
                    index=index, body=body, request_timeout=ADMIN_TIMEOUT + 5,
                    params={"wait_for_active_shards": "1", "timeout": "60s", "cluster_manager_timeout": "60s"})
            except os_errors.RequestError as exc:
                if exc.error != ALREADY_EXISTS:
                    raise
        self._call("create index", create)

    def delete_index(self, index: str) -> None:
        self._call("delete index", lambda: self.client.indices.delete(index=index, ignore_unavailable=True,
                                                                      request_timeout=ADMIN_TIMEOUT))

    def alias_targets(self, alias: str) -> list[str]:
        try:
            return sorted(self.client.indices.get_alias(name=alias))
        except os_errors.NotFoundError:
            return []
        except (os_errors.ConnectionError, os_errors.ConnectionTimeout) as exc:
            raise translate_status(None, "get alias", str(exc)[:500]) from None

    def update_aliases(self, actions: list[dict[str, Any]]) -> None:
        self._call("update aliases", lambda: self.client.indices.update_aliases(body={"actions": actions},
                                                                                request_timeout=ADMIN_TIMEOUT))

    def bulk(self, operations: Sequence[BulkLine], refresh: str) -> list[dict[str, Any]]:
        answer = self._call("bulk", lambda: self.client.bulk(
            body=ndjson(operations), params={"refresh": refresh, "filter_path": BULK_ITEM_FIELDS}))
        return answer.get("items", [])

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("search", lambda: self.client.search(index=index, body=body))

    def count(self, index: str, query: dict[str, Any] | None = None) -> int:
        body = {"query": query} if query else None
        return int(self._call("count", lambda: self.client.count(index=index, body=body))["count"])

    def refresh(self, index: str) -> None:
        self._call("refresh", lambda: self.client.indices.refresh(index=index, request_timeout=ADMIN_TIMEOUT))

    def add_fields(self, index: str, properties: dict[str, Any]) -> None:
        self._call("put mapping", lambda: self.client.indices.put_mapping(
            index=index, body={"properties": properties}, request_timeout=ADMIN_TIMEOUT))

    def set_refresh_interval(self, index: str, interval: str) -> None:
        self._call("put settings", lambda: self.client.indices.put_settings(
            index=index, body={"index": {"refresh_interval": interval}}, request_timeout=ADMIN_TIMEOUT))

    def reindex(self, source: str, dest: str) -> dict[str, Any]:
        body = {"source": {"index": source}, "dest": {"index": dest, "version_type": "external"},
                "conflicts": "proceed"}
        return self._call("reindex", lambda: self.client.reindex(body=body, refresh=True, wait_for_completion=True,
                                                                 request_timeout=600))

    def close(self) -> None:
        self.client.close()
