"""How large one policy may be: the contract between what collectors store and what the change
stream carries (docs/collectors.md, "Oversized input").

A collected record's text is cut to ``MAX_CONTENT_CHARS``, each short text field to
``MAX_FIELD_CHARS`` and its raw payload to
``MAX_RAW_DATA_BYTES`` (flagged, see ``collectors.sources.limits``); a record still larger than
``MAX_RECORD_BYTES`` as the change stream encodes it is rejected (DP_2004). A change event of a
``policies`` row carries the row once (``after``; the table logs no old row and the connector
drops ``before``) plus a small envelope; the connector's producer and the topics accept
``CHANGE_MESSAGE_MAX_BYTES``, which would leave room for two images and the envelope.
"""

from __future__ import annotations

import json
from typing import Any

MAX_CONTENT_CHARS = 100_000            # ~300 KB of Hangul; the longest real announcements are ~50,000
MAX_FIELD_CHARS = 1_000                # each short text field (organisations, target group, period text, ...):
                                       # ~3 KB, inside a search keyword term (32 KB) and a Neo4j index key (8 KB)
SHORT_TEXT_FIELDS = ("issuing_organization", "executing_organization", "target_group", "target_industry",
                     "support_field", "funding_type", "application_period_text", "contact_email", "contact_phone",
                     "contact_address")
MAX_RAW_DATA_BYTES = 512 * 1024        # the raw payload as it travels (JSON text inside the event)
MAX_RECORD_BYTES = 1024 * 1024         # the whole row as it travels
CHANGE_MESSAGE_MAX_BYTES = 4 * 1024 * 1024  # producer max.request.size and topic max.message.bytes

JSON_TEXT_COLUMNS = ("raw_data", "attachments", "collection_metadata")  # jsonb: sent as JSON text


def streamed_size(row: dict[str, Any]) -> int:
    """Bytes ``row`` (a policies row as JSON-ready values) takes in a JSON change event: jsonb
    columns travel as JSON text inside the event, so their quotes and escapes count twice."""
    encoded = {k: json.dumps(v, ensure_ascii=False, separators=(",", ":")) if k in JSON_TEXT_COLUMNS else v
               for k, v in row.items()}
    return len(json.dumps(encoded, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8"))


def json_text_size(value: Any) -> int:
    """Bytes of ``value`` as JSON text embedded in a JSON event (escaped a second time)."""
    inner = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return len(json.dumps(inner, ensure_ascii=False).encode("utf-8"))
