"""The 17 시도 and 전국: official names and the spellings sources use.

One table for the collectors (which normalise ``target_regions`` on the way in) and the graph sink
(which keys its ``Region`` nodes by official name).
"""

from __future__ import annotations

NATIONWIDE = "전국"

SIDO_ALIASES: dict[str, tuple[str, ...]] = {
    "서울특별시": ("서울", "서울시"),
    "부산광역시": ("부산", "부산시"),
    "대구광역시": ("대구", "대구시"),
    "인천광역시": ("인천", "인천시"),
    "광주광역시": ("광주",),  # not "광주시": that is also a city in 경기도
    "대전광역시": ("대전", "대전시"),
    "울산광역시": ("울산", "울산시"),
    "세종특별자치시": ("세종", "세종시"),
    "경기도": ("경기",),
    "강원특별자치도": ("강원", "강원도"),
    "충청북도": ("충북",),
    "충청남도": ("충남",),
    "전북특별자치도": ("전북", "전라북도"),
    "전라남도": ("전남",),
    "경상북도": ("경북",),
    "경상남도": ("경남",),
    "제주특별자치도": ("제주", "제주도"),
}
"""Official name → aliases seen in sources (short forms, ``…시``, pre-2023/2024 names)."""

NATIONWIDE_WORDS = frozenset({"전국", "전국공통", "전국 공통", "전 지역", "전지역", "중앙", "해당없음",
                              "national", "nationwide"})
"""Words sources use for "everywhere"."""
