"""Target regions normalised to the 17 시도 (official names) or ``전국`` (nationwide)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from aegis.models.regions import NATIONWIDE, NATIONWIDE_WORDS, SIDO_ALIASES

ALL_SIDO = tuple(SIDO_ALIASES)
_ALIAS = {alias: name for name, aliases in SIDO_ALIASES.items() for alias in (name, *aliases)}
_ALIASES_LONGEST_FIRST = sorted((a for a in _ALIAS if len(a) >= 2), key=len, reverse=True)

# First two digits of a 5-digit 시군구 code (법정동 코드) -> 시도.
_CODE_PREFIX = {
    "11": "서울특별시", "26": "부산광역시", "27": "대구광역시", "28": "인천광역시", "29": "광주광역시",
    "30": "대전광역시", "31": "울산광역시", "36": "세종특별자치시", "41": "경기도", "42": "강원특별자치도",
    "51": "강원특별자치도", "43": "충청북도", "44": "충청남도", "45": "전북특별자치도", "52": "전북특별자치도",
    "46": "전라남도", "47": "경상북도", "48": "경상남도", "50": "제주특별자치도",
}
_SPLIT = re.compile(r"\s*(?:,|\|\||/|·|ㆍ)\s*")


def sido_of(token: str) -> str | None:
    """The official 시도 name ``token`` names (alias or a longer name starting with one), or None."""
    token = token.strip().strip("#")
    if not token:
        return None
    if token in _ALIAS:
        return _ALIAS[token]
    for alias in _ALIASES_LONGEST_FIRST:
        if token.startswith(alias) and (len(alias) > 2 or len(token) <= 4):
            return _ALIAS[alias]
    return None


def collapse(regions: Iterable[str]) -> list[str]:
    """Deduplicate, keep order, and turn "every 시도" (or any nationwide word) into ``["전국"]``."""
    found = list(dict.fromkeys(r for r in regions if r))
    if NATIONWIDE in found or set(ALL_SIDO) <= set(found):
        return [NATIONWIDE]
    return found


def regions_from_text(text: str | None) -> list[str]:
    """Regions named in a list like ``서울, 경기`` / ``전국`` / ``서울||부산`` / Bizinfo hashtags."""
    if not text:
        return []
    found: list[str] = []
    for item in _SPLIT.split(text):
        words = [w.strip("#") for w in item.split()]
        if not words:
            continue
        if " ".join(words) in NATIONWIDE_WORDS or words[0] in NATIONWIDE_WORDS:
            found.append(NATIONWIDE)
            continue
        # "서울 경기 인천" lists several 시도; "경기도 광주시" is one place in 경기도.
        every_word_is_sido = all(w in _ALIAS for w in words)
        for word in words if every_word_is_sido else words[:1]:
            if (sido := sido_of(word)) is not None:
                found.append(sido)
    return collapse(found)


def regions_from_district_codes(codes: str | None) -> list[str]:
    """온통청년 ``zipCd`` (comma list of 5-digit 시군구 codes) to 시도 names."""
    if not codes:
        return []
    found = [_CODE_PREFIX.get(code.strip()[:2]) for code in codes.split(",") if len(code.strip()) >= 2]
    return collapse(r for r in found if r)
