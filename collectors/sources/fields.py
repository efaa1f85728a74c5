"""Typed reads of one raw item's fields: a wrong type costs that item (DP_2001), never its page.

Sources send "numbers as strings and strings as numbers" (formats.md §8), so a number where text
is expected is read as its decimal text (``171234``, ``3.5``) and a numeric string where a number
is expected is read as the number. Anything else of the wrong type — a boolean, a list or an
object where text is expected, text where a list is expected — raises ``DataError`` naming the
field and the type, and the item goes to ``dead_letters`` whole.
"""

from __future__ import annotations

import math
from typing import Any

from aegis.errors import DataError, ErrorCode
from collectors.parsing.html import html_to_text, unescape
from collectors.parsing.urls import canonical_url

_HINT = "kept in dead_letters with its raw payload"


def wrong_type(key: str, expected: str, value: Any) -> DataError:
    return DataError(f"field {key!r}: expected {expected}, got {_type_name(value)}",
                     code=ErrorCode.VALIDATION_FAILED, hint=_HINT)


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def scalar_text(value: Any) -> str | None:
    """``value`` as trimmed text when it is text or a number; None for null/empty; raises TypeError else."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    raise TypeError


def source_id_of(value: Any) -> str | None:
    """An item's id when it is text or a number (``pbanc_sn`` is an integer), else None."""
    try:
        return scalar_text(value)
    except TypeError:
        return None


class ItemFields:
    """Typed access to ``raw`` (one item's payload)."""

    def __init__(self, raw: dict[str, Any]):
        self.raw = raw

    def text(self, key: str) -> str | None:
        """Trimmed text (a number as its decimal text); None when missing, null or empty."""
        try:
            return scalar_text(self.raw.get(key))
        except TypeError:
            raise wrong_type(key, "text", self.raw.get(key)) from None

    def plain(self, key: str) -> str | None:
        """A short value with HTML entities decoded and whitespace collapsed (``R&amp;D`` -> ``R&D``)."""
        return unescape(self.text(key))

    def html(self, key: str) -> str:
        """Clean text of an HTML (or entity-laden) value; empty when missing."""
        return html_to_text(self.text(key))

    def integer(self, key: str) -> int | None:
        """An integer (a numeric string included); None when missing or not a whole number."""
        value = self.raw.get(key)
        if value is None or isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return int(value) if math.isfinite(value) and value.is_integer() else None
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                return None
        raise wrong_type(key, "a number", value)

    def url(self, key: str, base: str | None) -> str | None:
        """The canonical absolute URL in ``key`` (``collectors.parsing.urls``); DP_2001 when not a URL."""
        return canonical_url(self.text(key), base, field=key)

    def texts(self, key: str) -> list[str]:
        """A value that may be one text or a list of texts (repeated XML elements): the non-empty texts."""
        value = self.raw.get(key)
        values = value if isinstance(value, list) else [value]
        out = []
        for entry in values:
            try:
                text = scalar_text(entry)
            except TypeError:
                raise wrong_type(key, "text or a list of text", value) from None
            out.append(text or "")
        return out if any(out) else []
