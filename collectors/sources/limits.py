"""Oversized input: cut to the documented limits and flagged, or rejected (aegis.models.limits).

Decision: **truncate with a flag**, reject only what cannot be made to fit. A policy is worth
storing even when its announcement text is absurdly long (or its raw HTML carries an embedded
image): title, organisation, dates and link are what people search for, and the full original
stays one click away at ``original_url``. Rejecting it would drop a real policy for being
verbose. So:

* ``content`` longer than ``MAX_CONTENT_CHARS`` is cut there, and each short text field
  (organisations, target group, period text, contacts) longer than ``MAX_FIELD_CHARS``;
* a raw payload larger than ``MAX_RAW_DATA_BYTES`` (as the change stream carries it) has its
  longest strings cut, all to the same length, until it fits;
* either cut is recorded in ``raw_data["_aegis_truncated"]`` (what was cut, original sizes), so
  ``SELECT ... WHERE raw_data ? '_aegis_truncated'`` finds every truncated record;
* a record that is still larger than ``MAX_RECORD_BYTES`` (thousands of attachments, a raw
  payload of millions of tiny fields) is rejected with DP_2004 into ``dead_letters``.
"""

from __future__ import annotations

import json
from typing import Any

from aegis.errors import DataError, ErrorCode
from aegis.models.limits import (
    MAX_CONTENT_CHARS,
    MAX_FIELD_CHARS,
    MAX_RAW_DATA_BYTES,
    MAX_RECORD_BYTES,
    SHORT_TEXT_FIELDS,
    json_text_size,
    streamed_size,
)
from aegis.models.policy import PolicyRecord

TRUNCATION_KEY = "_aegis_truncated"
_MIN_STRING_CAP = 64
_NOTE_ROOM = 16 * 1024  # the truncation note in raw_data, with room to spare
_ELLIPSIS = "…"


def fit_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` (keyword arguments of a ``PolicyRecord``) with content and raw data cut to the limits."""
    notes: dict[str, Any] = {}
    content = fields.get("content")
    if isinstance(content, str) and len(content) > MAX_CONTENT_CHARS:
        fields = {**fields, "content": content[:MAX_CONTENT_CHARS]}
        notes["content"] = {"original_chars": len(content), "kept_chars": MAX_CONTENT_CHARS}
    for name in SHORT_TEXT_FIELDS:
        value = fields.get(name)
        if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
            fields = {**fields, name: value[:MAX_FIELD_CHARS]}
            notes[name] = {"original_chars": len(value), "kept_chars": MAX_FIELD_CHARS}
    raw = fields.get("raw_data")
    if isinstance(raw, dict):
        if TRUNCATION_KEY in raw:
            raw = {k: v for k, v in raw.items() if k != TRUNCATION_KEY}  # the flag is ours, never the source's
        if not _may_exceed(raw, MAX_RAW_DATA_BYTES):
            size = 0
        elif (size := json_text_size(raw)) > MAX_RAW_DATA_BYTES:
            raw, cap, cut = _shrink(raw)
            notes["raw_data"] = {"original_bytes": size, "strings_cut_to_chars": cap,
                                 "fields": [path[:200] for path in cut[:20]], "fields_cut": len(cut)}
        if notes:
            raw = {**raw, TRUNCATION_KEY: notes}
        fields = {**fields, "raw_data": raw}
    return fields


def _may_exceed(value: Any, limit: int) -> bool:
    """False when ``value`` as JSON text inside an event is surely within ``limit``: escaping the
    text a second time at most doubles it (quotes, backslashes and control escapes are ASCII)."""
    return 2 * len(json.dumps(value, ensure_ascii=False, default=str).encode("utf-8")) + 2 > limit


def check_record_size(record: PolicyRecord) -> PolicyRecord:
    """``record`` (built from ``fit_fields``: its raw data is within ``MAX_RAW_DATA_BYTES`` plus the
    truncation note), or DP_2004 when it exceeds ``MAX_RECORD_BYTES`` as streamed."""
    if _text_bound(record) + MAX_RAW_DATA_BYTES + _NOTE_ROOM < MAX_RECORD_BYTES:
        return record  # surely small: the common case, without serialising the record
    size = streamed_size(record.model_dump(mode="json"))
    if size > MAX_RECORD_BYTES:
        raise DataError(f"{record.source_system} {record.source_id}: record of {size:,} bytes exceeds the "
                        f"{MAX_RECORD_BYTES:,}-byte limit even after truncation", code=ErrorCode.RECORD_TOO_LARGE,
                        hint="kept in dead_letters with its raw payload; docs/collectors.md, 'Oversized input'")
    return record


def _text_bound(record: PolicyRecord) -> int:
    """An upper bound of the streamed bytes of everything but ``raw_data``: at most 4 UTF-8 bytes a
    character, at most 7 bytes once escaped twice (``\\u0001``), plus room for names and dates."""
    chars = sum(len(v) for v in (record.title, record.content, record.source_id, record.source_system,
                                 *(getattr(record, f) or "" for f in SHORT_TEXT_FIELDS),
                                 record.original_url or "", *record.target_regions))
    chars += sum(len(k) + len(v) + 8 for a in record.attachments for k, v in a.items())
    return 28 * chars + 4096


def _shrink(raw: dict[str, Any]) -> tuple[dict[str, Any], int, list[str]]:
    """``raw`` with every string longer than one common cap cut to it: the largest cap that fits."""
    longest = max((len(s) for _, s in _strings(raw)), default=0)
    low, high = _MIN_STRING_CAP, max(_MIN_STRING_CAP, longest)
    if json_text_size(_capped(raw, low)) > MAX_RAW_DATA_BYTES:
        raise DataError(f"raw payload of {json_text_size(raw):,} bytes cannot be cut to {MAX_RAW_DATA_BYTES:,} "
                        "bytes by shortening its texts", code=ErrorCode.RECORD_TOO_LARGE,
                        hint="kept in dead_letters with its raw payload; docs/collectors.md, 'Oversized input'")
    while low < high:  # the largest cap whose result fits
        middle = (low + high + 1) // 2
        if json_text_size(_capped(raw, middle)) <= MAX_RAW_DATA_BYTES:
            low = middle
        else:
            high = middle - 1
    cut = [path for path, text in _strings(raw) if len(text) > low]
    return _capped(raw, low), low, cut


def _strings(value: Any, path: str = "") -> list[tuple[str, str]]:
    found, stack = [], [(path, value)]
    while stack:
        where, current = stack.pop()
        if isinstance(current, str):
            found.append((where or "$", current))
        elif isinstance(current, dict):
            stack.extend((f"{where}.{k}" if where else str(k), v) for k, v in current.items())
        elif isinstance(current, list):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(current))
    return sorted(found)


def _capped(value: Any, cap: int) -> Any:
    # Depth is bounded before mapping (collectors.sources.base), so recursion here is shallow.
    if isinstance(value, str):
        return value if len(value) <= cap else value[:cap] + _ELLIPSIS
    if isinstance(value, dict):
        return {k: _capped(v, cap) for k, v in value.items()}
    if isinstance(value, list):
        return [_capped(v, cap) for v in value]
    return value


def payload_excerpt(payload: Any, limit: int = MAX_RAW_DATA_BYTES // 2) -> Any:
    """A rejected payload small enough to keep in ``dead_letters`` (its JSON text cut to ``limit``)."""
    text = json.dumps(payload, ensure_ascii=False, default=str)
    if len(text) <= limit:
        return payload
    return {"_aegis_excerpt": text[:limit], "_aegis_original_chars": len(text)}
