"""Reference values the quality rules check against (regions, organisation names, period phrases)."""

from __future__ import annotations

import re

from aegis.models.regions import NATIONWIDE, SIDO_ALIASES

# The 17 시도 by official name (what the collectors normalise regions to) and the spellings a title
# may use ("[서울] 청년 월세 지원"): the one table in ``aegis.models.regions``.
SIDO_SHORT_NAMES: dict[str, tuple[str, ...]] = SIDO_ALIASES
KNOWN_REGIONS = frozenset(SIDO_SHORT_NAMES) | {NATIONWIDE}

# Korean public bodies end in one of these (중소벤처기업부, 창업진흥원, 서울특별시, 강남구,
# 한국산업기술진흥원, 서울경제진흥원, 고용노동부, 국무조정실 …). Longest first for readability only.
_ORG_SUFFIXES = (
    "위원회", "진흥원", "재단", "공단", "공사", "협회", "센터", "연구원", "연구소", "교육청", "대학교",
    "은행", "조합", "본부", "사무소", "부", "처", "청", "원", "실", "시", "도", "군", "구", "회",
)
_ORG_ENGLISH = re.compile(r"\b(ministry|agency|office|foundation|institute|center|centre|council|"
                          r"corporation|bank|university|government|administration|service)\b", re.I)
_ORG_PLACEHOLDERS = frozenset({"-", "--", "없음", "미정", "해당없음", "기타", "n/a", "na", "none", "null",
                               "unknown", "test", "테스트"})
_BRACKETED = re.compile(r"\([^)]*\)|\[[^\]]*\]")


def is_known_organisation(name: str | None) -> bool:
    """True when ``name`` looks like a real public body: not a placeholder, ends like an institution."""
    if not name:
        return False
    text = _BRACKETED.sub("", name).strip()
    if text.lower() in _ORG_PLACEHOLDERS or not re.search(r"[가-힣A-Za-z]", text):
        return False
    last_word = text.split()[-1]
    return last_word.endswith(_ORG_SUFFIXES) or bool(_ORG_ENGLISH.search(text))


# Free-text application periods the sources legitimately send instead of dates (formats.md).
OPEN_ENDED_PERIOD = re.compile(r"상시|수시|연중|예산\s*소진|소진\s*시|사업별\s*상이|"
                               r"별도\s*(공지|안내)|추후\s*(공지|안내)|"
                               r"공고\s*(참조|참고)|세부\s*공고|기관별\s*상이|선착순")

# A calendar date inside free text: 2025-03-01, 2025.03.01, 2025/3/1, 20250301, 2025년 3월 1일.
DATE_IN_TEXT = re.compile(
    r"(?P<y>(?:19|20)\d{2})\s*(?:[-./]\s*|년\s*)(?P<m>\d{1,2})\s*(?:[-./]\s*|월\s*)(?P<d>\d{1,2})"
    r"|(?P<compact>(?:19|20)\d{6})(?!\d)")
