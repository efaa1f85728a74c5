"""Writer schemas by id from a schema registry's Confluent-compatible API, parsed once for fastavro.

The HTTP work is confluent-kafka's ``SchemaRegistryClient`` (Apicurio Registry serves the same API
under ``/apis/ccompat/v7``); what it raises is translated here, at the boundary:

* the id is unknown (404) → ``DataError``: that one message can never be decoded;
* the registry is unreachable, times out, or answers 408/429/5xx → ``TransientError``
  (``DP_3008``), retried with the shared retry helper before it is raised;
* it refuses us (401/403) or answers a schema that is not Avro → ``TerminalError``: a person
  must fix credentials or configuration.

A schema id always names the same schema, so every parsed schema is kept for the process's life:
after the first message of each schema version the registry is not asked again.
"""

from __future__ import annotations

import json
import threading
import warnings
from typing import Any, Protocol

from aegis.errors import DataError, ErrorCode, TerminalError, TransientError
from aegis.retry import RetryPolicy, retry_call
from aegis.settings import SchemaRegistrySettings

ParsedSchema = Any  # what fastavro.parse_schema returns


class SchemaSource(Protocol):
    """Where writer schemas come from (the registry; a fixed map in unit tests)."""

    def writer_schema(self, schema_id: int) -> ParsedSchema: ...


def parse_avro_schema(schema_text: str, schema_id: int) -> ParsedSchema:
    """fastavro's parsed form of an Avro schema document; ``TerminalError`` if it is not one."""
    import fastavro

    try:
        return fastavro.parse_schema(json.loads(schema_text))
    except (ValueError, TypeError, KeyError, fastavro.schema.SchemaParseException) as exc:
        raise TerminalError(f"schema {schema_id} from the registry is not a valid Avro schema: {exc}",
                            code=ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE,
                            hint="check that the connector writes Avro (connectors/policies-source.avro.json)") from None


class RegistrySchemas:
    """Writer schemas from the registry at ``SCHEMA_REGISTRY_URL`` (its Confluent-compatible API)."""

    def __init__(self, settings: SchemaRegistrySettings, retry: RetryPolicy | None = None):
        # authlib (imported by the client) warns that it prefers httpx2 over httpx, and re-enables that
        # warning itself on import: record it rather than print it.
        with warnings.catch_warnings(record=True):
            from confluent_kafka.schema_registry import SchemaRegistryClient

        conf: dict[str, Any] = {"url": settings.ccompat_url, "timeout": settings.request_timeout_seconds,
                                "max.retries": 0}  # retries are ours (aegis.retry), counted once
        if settings.basic_auth is not None:
            conf["basic.auth.user.info"] = settings.basic_auth.get_secret_value()
        self.url = settings.ccompat_url
        self._client = SchemaRegistryClient(conf)
        self._retry = retry or RetryPolicy(attempts=4, base_delay=0.2, max_delay=2.0)
        self._parsed: dict[int, ParsedSchema] = {}
        self._lock = threading.Lock()

    def writer_schema(self, schema_id: int) -> ParsedSchema:
        parsed = self._parsed.get(schema_id)
        if parsed is not None:
            return parsed
        text = retry_call(lambda: self._fetch(schema_id), self._retry, what=f"schema registry GET schemas/ids/{schema_id}")
        parsed = parse_avro_schema(text, schema_id)
        with self._lock:
            self._parsed[schema_id] = parsed
        return parsed

    def _fetch(self, schema_id: int) -> str:
        from confluent_kafka.schema_registry.error import SchemaRegistryError
        from httpx import HTTPError

        try:
            schema = self._client.get_schema(schema_id)
        except SchemaRegistryError as exc:
            status = exc.http_status_code
            if status == 404:
                raise DataError(f"schema id {schema_id} is not in the schema registry ({exc.error_message})",
                                code=ErrorCode.CHANGE_EVENT_UNDECODABLE,
                                hint="the message was written against another registry, or the registry lost its data") from None
            if status in (401, 403):
                raise TerminalError(f"the schema registry at {self.url} refused access ({status})",
                                    code=ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE,
                                    hint="set SCHEMA_REGISTRY_BASIC_AUTH=user:password") from None
            if status in (408, 429) or status >= 500:
                raise TransientError(f"the schema registry at {self.url} answered {status}: {exc.error_message}",
                                     code=ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE) from None
            raise TerminalError(f"the schema registry at {self.url} answered {status} for schema {schema_id}: "
                                f"{exc.error_message}", code=ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE,
                                hint="check SCHEMA_REGISTRY_URL (it must be the registry's base URL)") from None
        except HTTPError as exc:
            raise TransientError(f"the schema registry at {self.url} is unreachable: {exc}",
                                 code=ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE,
                                 hint="start it (`aegis stack up schema-registry`) or check SCHEMA_REGISTRY_URL") from None
        if (schema.schema_type or "AVRO").upper() != "AVRO":
            raise TerminalError(f"schema {schema_id} is {schema.schema_type}, not Avro",
                                code=ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE,
                                hint="the change topic must be written by the Avro profile (docs/avro.md)")
        return schema.schema_str
