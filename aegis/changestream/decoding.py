"""From the bytes on the change topic to a ``ChangeEvent``, whatever the encoding.

``CHANGE_EVENTS_FORMAT`` picks the decoder (``build_decoder``):

* ``json`` — ``decode_change``: Debezium's JSON envelope (the default profile);
* ``avro`` — ``AvroChangeDecoder``: the Confluent wire format (magic byte 0, schema id, Avro
  binary) written by Apicurio's converter; the writer schema comes from the schema registry by
  id and fastavro decodes the datum into the same key and envelope documents the JSON profile
  carries, so both end in ``change_from_documents`` and produce equal events.

The Avro decoder also takes JSON messages (anything not framed), so a topic that switched from
the JSON to the Avro profile is consumed without a gap. A decoder raises ``DataError`` for a
message that can never be decoded, ``TransientError`` (``DP_3008``) while the registry is
unreachable and ``TerminalError`` when it refuses us. ``ping()`` says whether what a decoder
depends on answers again (the sink runtime probes it while paused by a registry outage), and
``document()`` is the format-aware half alone: one key or value as a plain Python value, for
readers of other Debezium topics (``policy-events``: ``aegis.events.published``).
"""

from __future__ import annotations

import io
from typing import Any, Protocol

from aegis.changestream.avro_registry import RegistrySchemas, SchemaSource
from aegis.changestream.avro_wire import looks_framed, unframe
from aegis.changestream.event import ChangeEvent, _loads, change_from_documents, decode_change
from aegis.errors import DataError, ErrorCode
from aegis.settings import Settings


class ChangeDecoder(Protocol):
    """Turns one change-topic key/value pair into a ``ChangeEvent``."""

    format: str

    def __call__(self, key: bytes | None, value: bytes | None) -> ChangeEvent: ...

    def document(self, data: bytes | None, what: str) -> Any:
        """One key or value as a plain Python value (``DataError`` if it cannot be read)."""
        ...

    def ping(self) -> bool:
        """Whether what decoding depends on (the schema registry) answers; True when nothing."""
        ...


class JsonChangeDecoder:
    """The JSON profile: ``decode_change``, with a hint when a message is Avro instead."""

    format = "json"

    def __call__(self, key: bytes | None, value: bytes | None) -> ChangeEvent:
        try:
            return decode_change(key, value)
        except DataError as exc:
            if looks_framed(value) or looks_framed(key):
                exc.hint = ("this message is Avro-framed: the connector runs the Avro profile, so run the sinks "
                            "with CHANGE_EVENTS_FORMAT=avro (docs/avro.md)")
            raise

    def document(self, data: bytes | None, what: str) -> Any:
        if looks_framed(data):
            raise DataError(f"change event {what} is Avro-framed, not JSON", code=ErrorCode.CHANGE_EVENT_UNDECODABLE,
                            hint="the connector runs the Avro profile: "
                                 "run with CHANGE_EVENTS_FORMAT=avro (docs/avro.md)")
        return _loads(data, what)

    def ping(self) -> bool:
        return True


class AvroChangeDecoder:
    """The Avro profile: framed Avro through the registry's writer schema (and plain JSON as before)."""

    format = "avro"

    def __init__(self, schemas: SchemaSource):
        self.schemas = schemas

    def __call__(self, key: bytes | None, value: bytes | None) -> ChangeEvent:
        key_doc = self.document(key, "key")
        envelope = self.document(value, "value")
        return change_from_documents(key_doc, envelope, raw_key=key, raw_value=value)

    def ping(self) -> bool:
        return self.schemas.ping()

    def document(self, data: bytes | None, what: str) -> Any:
        """A framed datum through its writer schema; anything else as JSON (from before the switch)."""
        if data is None:
            return None
        if not looks_framed(data):
            return _loads(data, what)  # a JSON-profile message from before the switch
        return self.read(data, what)

    def read(self, data: bytes, what: str = "message") -> Any:
        """The Python value of one framed Avro datum (records become dicts)."""
        import fastavro

        framed = unframe(data, f"change event {what}")
        schema = self.schemas.writer_schema(framed.schema_id)
        stream = io.BytesIO(framed.payload)
        try:
            document = fastavro.schemaless_reader(stream, schema, None)
        except (EOFError, ValueError, TypeError, IndexError, KeyError, UnicodeDecodeError, OverflowError,
                MemoryError, StopIteration) as exc:
            raise DataError(f"change event {what} does not decode with its writer schema {framed.schema_id}: "
                            f"{type(exc).__name__}: {exc}", code=ErrorCode.CHANGE_EVENT_UNDECODABLE) from None
        if stream.tell() != len(framed.payload):
            raise DataError(f"change event {what} has {len(framed.payload) - stream.tell()} bytes after its Avro "
                            f"datum (schema {framed.schema_id})", code=ErrorCode.CHANGE_EVENT_UNDECODABLE)
        return document


def build_decoder(settings: Settings) -> ChangeDecoder:
    """The decoder ``CHANGE_EVENTS_FORMAT`` asks for (the Avro one talks to ``SCHEMA_REGISTRY_URL``)."""
    if settings.change_events.format == "avro":
        return AvroChangeDecoder(RegistrySchemas(settings.schema_registry))
    return JsonChangeDecoder()
