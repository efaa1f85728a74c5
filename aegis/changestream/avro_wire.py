"""The Confluent wire format: magic byte 0, a 4-byte big-endian schema id, then Avro binary.

Apicurio Registry's converter writes it with ``apicurio.registry.as-confluent=true`` (the id is
Apicurio's content id, which its Confluent-compatible API serves as the schema id).
"""

from __future__ import annotations

from dataclasses import dataclass

from aegis.errors import DataError, ErrorCode

MAGIC_BYTE = 0
HEADER_SIZE = 5


@dataclass(frozen=True)
class Framed:
    """One framed Avro datum: which writer schema, and the encoded bytes after the header."""

    schema_id: int
    payload: memoryview


def looks_framed(data: bytes | None) -> bool:
    """True for bytes that start like a Confluent-framed datum (JSON never starts with byte 0)."""
    return data is not None and len(data) >= HEADER_SIZE and data[0] == MAGIC_BYTE


def unframe(data: bytes, what: str = "message") -> Framed:
    """Split ``data`` into schema id and payload; ``DataError`` when it is not framed."""
    if not looks_framed(data):
        raise DataError(f"{what} is not in the Confluent Avro wire format (magic byte 0 + 4-byte schema id): "
                        f"{bytes(data[:16])!r}", code=ErrorCode.CHANGE_EVENT_UNDECODABLE)
    return Framed(int.from_bytes(data[1:HEADER_SIZE], "big"), memoryview(data)[HEADER_SIZE:])


def frame(schema_id: int, payload: bytes) -> bytes:
    """The framed form of ``payload`` (what a Confluent-compatible serializer writes)."""
    return bytes([MAGIC_BYTE]) + schema_id.to_bytes(4, "big") + payload
