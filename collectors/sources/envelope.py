"""Finding the list of items in a response, whatever envelope it arrives in (formats.md §8).

A list of items arrives as a list, as a single object, wrapped as ``{"item": [...]}`` or
``{"item": {...}}`` (data.go.kr's JSON mirror of its XML), or as ``""``/``null``/``[]``/``{}`` when
empty. ``items_in`` accepts all of these. What it does not accept is a non-empty value in which
no item can be found (an object that is neither a wrapper nor an item, a bare number or text):
that is DP_1004, because a response that silently yields zero records is an error, not success.

Entries of the list that are not objects are kept (``raw_items``) so each is rejected on its
own with DP_2001 instead of disappearing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from aegis.errors import ErrorCode, TerminalError
from collectors.models import RawItem
from collectors.sources.fields import source_id_of

WRAPPER_KEYS = ("item",)
NOT_AN_OBJECT = "_aegis_not_an_object"  # payload key of a list entry that is not a JSON object


def describe(value: Any) -> str:
    if isinstance(value, dict):
        keys = ", ".join(sorted(map(str, value))[:8])
        return f"an object with keys {keys}" if keys else "an empty object"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, str):
        return f"text of {len(value)} characters"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "null" if value is None else f"a {type(value).__name__}"


def items_in(value: Any, what: str, *, looks_like_item: Callable[[dict[str, Any]], bool]) -> list[Any]:
    """The items ``value`` holds (see module docstring); ``looks_like_item`` tells a single item
    from an envelope that merely lacks its list."""
    for _ in range(3):  # {"item": {"item": [...]}} at most a few levels, never unbounded
        if value is None or value == "" or value == [] or value == {}:
            return []
        if isinstance(value, list):
            return value
        if isinstance(value, str) and not value.strip():
            return []
        if not isinstance(value, dict):
            break
        wrapper = next((k for k in WRAPPER_KEYS if k in value), None)
        if wrapper is not None:
            value = value[wrapper]
            continue
        if looks_like_item(value):
            return [value]
        break
    raise TerminalError(f"{what}: no items found in {describe(value)}", code=ErrorCode.INVALID_DATA_FORMAT,
                        hint="the response is not empty but holds no list of items this collector knows; "
                             "nothing of this page was stored (the source may have changed its format)")


def follow(value: Any, path: Iterable[str]) -> tuple[bool, Any]:
    """``value[a][b]...`` for ``path``: ``(True, found)``, or ``(False, None)`` when a step is missing."""
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return False, None
        value = value[key]
    return True, value


def raw_items(values: list[Any], id_of: Callable[[dict[str, Any]], Any]) -> list[RawItem]:
    """``RawItem``s for the entries of a list; an entry that is not an object is kept for rejection."""
    items = []
    for value in values:
        if isinstance(value, dict):
            items.append(RawItem(source_id=source_id_of(id_of(value)), payload=value))
        else:
            items.append(RawItem(source_id=None, payload={NOT_AN_OBJECT: value}))
    return items


def has_any(*keys: str) -> Callable[[dict[str, Any]], bool]:
    """A ``looks_like_item`` that accepts an object holding any of ``keys``."""
    return lambda value: any(k in value for k in keys)
