"""Names of dimension nodes, normalised so one real-world thing is one node.

Sources spell the same organisation, region or category differently (``㈜`` vs ``(주)``, stray
spaces, ``서울`` vs ``서울특별시``, old province names). Every dimension value becomes a
``DimensionName``: a ``key`` (the node's identity, unique per label) and a ``name`` to show.

* **Organisations**: Unicode NFKC, whitespace collapsed, surrounding punctuation trimmed, legal-form
  markers (``(재)``, ``(사)``, ``(주)``, ``재단법인``, ``사단법인``, ``주식회사``) dropped; the key is
  that name case-folded without any whitespace.
* **Regions**: the 17 시도 (and 전국) map every common spelling — short (``서울``, ``경기``),
  ``…시``, full and pre-2023/2024 names (``강원도``, ``전라북도``) — to the official name, which
  is both key and name. Anything else (a 시/군/구) is normalised like an organisation.
* **Categories** (fields, target groups, funding types): normalised like organisations, and a value
  listing several (``청년, 대학생``; ``중소기업/소상공인``; ``A||B``) is split into each.

The same few thousand values recur in every batch, so each function remembers its last
``CACHED_VALUES`` answers: normalising was ~40 % of the sink's per-policy Python
(``bench/sinks/plan_bench.py``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from aegis.models.regions import NATIONWIDE, NATIONWIDE_WORDS, SIDO_ALIASES

CACHED_VALUES = 8192
"""Distinct input values each normalising function remembers."""

_WHITESPACE = re.compile(r"\s+")
_EDGE_PUNCTUATION = " \t\r\n.,;:·-_~!?\"'`()[]{}<>「」『』【】"
_LEGAL_FORMS = re.compile(r"^(?:\((?:재|사|주|유|합)\)|재단법인|사단법인|주식회사|유한회사)\s*"
                          r"|\s*(?:\((?:재|사|주|유|합)\)|재단법인|사단법인|주식회사|유한회사)$")
_LIST_SEPARATORS = re.compile(r"\s*(?:\|\||[,;|/、])\s*")


@dataclass(frozen=True)
class DimensionName:
    """A dimension node's identity (``key``) and display ``name``."""

    key: str
    name: str


def clean_text(value: str) -> str:
    """NFKC, whitespace collapsed to single spaces, surrounding punctuation trimmed."""
    text = _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", value)).strip(_EDGE_PUNCTUATION)
    return text


def _key(name: str) -> str:
    return _WHITESPACE.sub("", name).casefold()


_REGION_ALIASES: dict[str, str] = {
    _key(alias): official for official, aliases in SIDO_ALIASES.items() for alias in (official, *aliases)}
_REGION_ALIASES.update({_key(word): NATIONWIDE for word in NATIONWIDE_WORDS})


@lru_cache(maxsize=CACHED_VALUES)
def organisation(value: str | None) -> DimensionName | None:
    """The organisation node for ``value`` (None when nothing is left after cleaning)."""
    if not value:
        return None
    name = _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", value)).strip()
    previous = None
    while previous != name:  # "(재) 재단법인 X" loses both markers
        previous, name = name, _LEGAL_FORMS.sub("", name).strip()
    name = clean_text(name)
    return DimensionName(_key(name), name) if name else None


@lru_cache(maxsize=CACHED_VALUES)
def region(value: str | None) -> DimensionName | None:
    """The region node for ``value``: the official 시도 name when it is one, else the cleaned text."""
    if not value:
        return None
    cleaned = clean_text(value)
    official = _REGION_ALIASES.get(_key(cleaned))
    if official:
        return DimensionName(official, official)
    return DimensionName(_key(cleaned), cleaned) if cleaned else None


def categories(value: str | None) -> list[DimensionName]:
    """Every category named in ``value`` (split on ``,`` ``;`` ``|`` ``||`` ``/``), without duplicates."""
    return list(_categories(value)) if value else []


@lru_cache(maxsize=CACHED_VALUES)
def _categories(value: str) -> tuple[DimensionName, ...]:
    found: dict[str, DimensionName] = {}
    for part in _LIST_SEPARATORS.split(unicodedata.normalize("NFKC", value)):
        name = clean_text(part)
        if name:
            found.setdefault(_key(name), DimensionName(_key(name), name))
    return tuple(found.values())
