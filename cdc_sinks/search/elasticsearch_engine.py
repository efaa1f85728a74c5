"""``SearchEngine`` over the ``elasticsearch`` client (Elasticsearch 8; 9 answers v8 clients through
REST compatibility). Not exercised by the local stack (no Elasticsearch server installs here):
run it with ``compose.yaml``'s elasticsearch service and ``SEARCH_ENGINE=elasticsearch``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import elasticsearch
from elastic_transport.client_utils import DEFAULT
from elasticsearch import Elasticsearch

from aegis.settings import SearchSettings
from cdc_sinks.search.engine import ALREADY_EXISTS, BULK_ITEM_FIELDS, BulkLine, SearchEngine, ndjson
from cdc_sinks.search.errors import translate_status

T = TypeVar("T")
ADMIN_TIMEOUT = 60  # index and alias changes wait for the cluster state: slower than writes


class ElasticsearchEngine(SearchEngine):
    kind = "elasticsearch"

    def __init__(self, search: SearchSettings):
        auth = (search.username, search.password.get_secret_value()) if search.username and search.password else None
        api_key = search.api_key.get_secret_value() if search.api_key else None
        self.client = Elasticsearch(search.url, basic_auth=None if api_key else auth, api_key=api_key,
                                    request_timeout=search.request_timeout_seconds, max_retries=0,
                                    retry_on_timeout=False, verify_certs=search.verify_certs,
                                    ca_certs=str(search.ca_certs) if search.ca_certs else DEFAULT)

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except (elasticsearch.ConnectionError, elasticsearch.ConnectionTimeout) as exc:
            raise translate_status(None, what, str(exc)[:500]) from None
        except elasticsearch.ApiError as exc:
            raise translate_status(exc.meta.status, what, f"{exc.message}: {str(exc.info)[:500]}") from None
        except elasticsearch.TransportError as exc:
            raise translate_status(None, what, str(exc)[:500]) from None

    def info(self) -> dict[str, Any]:
        return dict(self._call("info", lambda: self.client.info()))

    def tokenizer_available(self, tokenizer: str) -> bool:
        try:
            self.client.indices.analyze(tokenizer=tokenizer, text="정책")
            return True
        except elasticsearch.BadRequestError:
            return False
        except elasticsearch.ApiError as exc:
            raise translate_status(exc.meta.status, "analyze", str(exc)) from None

    def index_exists(self, index: str) -> bool:
        return bool(self._call("index exists", lambda: self.client.indices.exists(index=index)))

    def create_index(self, index: str, body: dict[str, Any]) -> None:
        def create() -> None:
            try:
                self.client.options(request_timeout=ADMIN_TIMEOUT).indices.create(
                    index=index, settings=body["settings"], mappings=body["mappings"])
            except elasticsearch.BadRequestError as exc:
                error = exc.body.get("error") if isinstance(exc.body, dict) else None
                if not (isinstance(error, dict) and error.get("type") == ALREADY_EXISTS):
                    raise
        self._call("create index", create)

    def delete_index(self, index: str) -> None:
        admin = self.client.options(request_timeout=ADMIN_TIMEOUT)
        self._call("delete index", lambda: admin.indices.delete(index=index, ignore_unavailable=True))

    def alias_targets(self, alias: str) -> list[str]:
        try:
            return sorted(self.client.indices.get_alias(name=alias))
        except elasticsearch.NotFoundError:
            return []
        except (elasticsearch.ConnectionError, elasticsearch.ConnectionTimeout) as exc:
            raise translate_status(None, "get alias", str(exc)[:500]) from None

    def update_aliases(self, actions: list[dict[str, Any]]) -> None:
        admin = self.client.options(request_timeout=ADMIN_TIMEOUT)
        self._call("update aliases", lambda: admin.indices.update_aliases(actions=actions))

    def bulk(self, operations: Sequence[BulkLine], refresh: str) -> list[dict[str, Any]]:
        # the body goes as it is: NDJSON bytes made with orjson (the client's typing only knows dicts)
        answer = self._call("bulk", lambda: self.client.bulk(
            operations=ndjson(operations), refresh=refresh,  # type: ignore[arg-type]
            filter_path=BULK_ITEM_FIELDS))
        return list(answer.get("items", []))

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("search", lambda: self.client.search(index=index, **body)))

    def count(self, index: str, query: dict[str, Any] | None = None) -> int:
        return int(self._call("count", lambda: self.client.count(index=index, query=query))["count"])

    def refresh(self, index: str) -> None:
        self._call("refresh", lambda: self.client.options(request_timeout=ADMIN_TIMEOUT).indices.refresh(index=index))

    def add_fields(self, index: str, properties: dict[str, Any]) -> None:
        self._call("put mapping", lambda: self.client.options(request_timeout=ADMIN_TIMEOUT).indices.put_mapping(
            index=index, properties=properties))

    def set_refresh_interval(self, index: str, interval: str) -> None:
        self._call("put settings", lambda: self.client.options(request_timeout=ADMIN_TIMEOUT).indices.put_settings(
            index=index, settings={"index": {"refresh_interval": interval}}))

    def reindex(self, source: str, dest: str) -> dict[str, Any]:
        return dict(self._call("reindex", lambda: self.client.options(request_timeout=600).reindex(
            source={"index": source}, dest={"index": dest, "version_type": "external"}, conflicts="proceed",
            refresh=True, wait_for_completion=True)))

    def close(self) -> None:
        self.client.close()
