"""Writer schemas by id from a schema registry's Confluent-compatible API, parsed once for fastavro.

The HTTP work is confluent-kafka's ``SchemaRegistryClient`` (Apicurio Registry serves the same API
under ``/apis/ccompat/v7``); what it raises is translated here, at the boundary:

* the registry says the id is unknown (404 with its "schema not found" error body) →
  ``DataError``: that one message can never be decoded;
* the registry is unreachable, times out, answers 408/429/5xx, or answers something that is not
  the registry's JSON (a server still starting, a proxy's error page — a 404 without the
  registry's error body included) → ``TransientError`` (``DP_3008``), retried with the shared
  retry helper before it is raised; the sink runtime then pauses and probes ``ping()`` until the
  registry answers again;
* it refuses us (401/403) or answers a schema that is not Avro → ``TerminalError``: a person
  must fix credentials or configuration.

Nothing else escapes: whatever the client raises is translated into one of the three.

A schema id always names the same schema, so every parsed schema is kept for the process's life:
after the first message of each schema version the registry is not asked again.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from aegis.errors import DataError, ErrorCode, TerminalError, TransientError
from aegis.retry import RetryPolicy, retry_call
from aegis.settings import SchemaRegistrySettings

ParsedSchema = Any  # what fastavro.parse_schema returns
T = TypeVar("T")
SCHEMA_NOT_FOUND = 40403  # the registry's error code for an unknown schema id (Confluent API; Apicurio's ccompat too)
UNREADABLE_ANSWER = -1  # confluent-kafka's error code when the error answer was not the registry's JSON


class SchemaSource(Protocol):
    """Where writer schemas come from (the registry; a fixed map in unit tests)."""

    def writer_schema(self, schema_id: int) -> ParsedSchema: ...

    def ping(self) -> bool:
        """Whether the source answers (the registry is reachable and not failing)."""
        ...


def parse_avro_schema(schema_text: str, schema_id: int) -> ParsedSchema:
    """fastavro's parsed form of an Avro schema document; ``TerminalError`` if it is not one."""
    import fastavro

    try:
        return fastavro.parse_schema(json.loads(schema_text))
    except (ValueError, TypeError, KeyError, fastavro.schema.SchemaParseException) as exc:
        raise TerminalError(f"schema {schema_id} from the registry is not a valid Avro schema: {exc}",
                            code=ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE,
                            hint="check that the connector writes Avro (connectors/policies-source.avro.json)",
                            ) from None


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
        text = retry_call(lambda: self._fetch(schema_id), self._retry,
                          what=f"schema registry GET schemas/ids/{schema_id}")
        parsed = parse_avro_schema(text, schema_id)
        with self._lock:
            self._parsed[schema_id] = parsed
        return parsed

    def ping(self) -> bool:
        """One request, no retries: True when the registry answers (even with a refusal: that is no outage)."""
        try:
            self._call(self._client.get_schema_types, "GET schemas/types")  # a small answer
        except TransientError:
            return False
        except (TerminalError, DataError):
            return True
        return True

    def _fetch(self, schema_id: int) -> str:
        schema = self._call(lambda: self._client.get_schema(schema_id), f"schema {schema_id}", schema_id=schema_id)
        if (schema.schema_type or "AVRO").upper() != "AVRO":
            raise TerminalError(f"schema {schema_id} is {schema.schema_type}, not Avro",
                                code=ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE,
                                hint="the change topic must be written by the Avro profile (docs/avro.md)")
        if schema.schema_str is None:
            raise TerminalError(f"schema {schema_id} from the registry has no schema text",
                                code=ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE,
                                hint="is SCHEMA_REGISTRY_URL a Confluent-compatible registry?")
        return schema.schema_str

    def _call(self, fn: Callable[[], T], what: str, *, schema_id: int | None = None) -> T:
        """``fn()`` (one client call) with every error it can raise translated (see the module doc)."""
        from confluent_kafka.schema_registry.error import SchemaRegistryError
        from httpx import HTTPError

        try:
            return fn()
        except SchemaRegistryError as exc:
            raise self._answer_error(exc, what, schema_id) from None
        except HTTPError as exc:
            raise TransientError(f"the schema registry at {self.url} is unreachable ({what}): "
                                 f"{type(exc).__name__}: {exc}", code=ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE,
                                 hint="start it (`aegis stack up schema-registry`) or check SCHEMA_REGISTRY_URL",
                                 ) from None
        except (ValueError, TypeError, KeyError, AttributeError) as exc:  # an answer that is not the registry's JSON
            raise TransientError(f"the schema registry at {self.url} gave an unreadable answer ({what}): "
                                 f"{type(exc).__name__}: {exc}", code=ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE,
                                 hint="is SCHEMA_REGISTRY_URL the registry's base URL, and is it fully started?",
                                 ) from None

    def _answer_error(self, exc: Any, what: str, schema_id: int | None) -> Exception:
        status, error_code = exc.http_status_code, exc.error_code
        if status == 404 and schema_id is not None and error_code == SCHEMA_NOT_FOUND:
            return DataError(f"schema id {schema_id} is not in the schema registry ({exc.error_message})",
                             code=ErrorCode.CHANGE_EVENT_UNDECODABLE,
                             hint="the message was written against another registry, or the registry lost its data")
        if status in (401, 403):
            return TerminalError(f"the schema registry at {self.url} refused access ({status})",
                                 code=ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE,
                                 hint="set SCHEMA_REGISTRY_BASIC_AUTH=user:password")
        if status in (404, 408, 429) or status >= 500 or error_code == UNREADABLE_ANSWER:
            return TransientError(f"the schema registry at {self.url} answered {status} ({what}): {exc.error_message}",
                                  code=ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE,
                                  hint="a 404 without the registry's error body: is SCHEMA_REGISTRY_URL the registry's "
                                       "base URL, and is it fully started?" if status == 404 else None)
        return TerminalError(f"the schema registry at {self.url} answered {status} ({what}): {exc.error_message}",
                             code=ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE,
                             hint="check SCHEMA_REGISTRY_URL (it must be the registry's base URL)")
