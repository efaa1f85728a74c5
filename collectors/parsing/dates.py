"""Dates, timestamps and application periods in every shape the sources send (formats.md).

Free-text periods (``상시 접수``, ``예산 소진시까지``, ``사업별 상이``) are kept as text and never
turned into guessed dates; ``상시``/``수시`` additionally set the always-open flag.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

from pydantic import BaseModel

KST = timezone(timedelta(hours=9), "KST")

# One calendar date: 2025-03-01, 2025.03.01, 2025/03/01, 2025. 3. 1., 20250301, 2025년 3월 1일
_DATE = re.compile(
    r"(?P<y>(?:19|20)\d{2})\s*(?:[-./]\s*|년\s*)(?P<m>\d{1,2})\s*(?:[-./]\s*|월\s*)(?P<d>\d{1,2})(?:\s*일|\s*\.)?"
    r"|(?P<compact>(?:19|20)\d{6})(?!\d)"
)
_TRAILING_TIME = re.compile(r"\s*\.?\s*(?:\([월화수목금토일]\))?(?:[\sT]*\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?\s*\.?\s*")
_ALWAYS_OPEN = re.compile(r"상시|수시|연중")
_RANGE_SPLIT = re.compile(r"\s*(?:~|∼|〜|～|부터)\s*")


class ApplicationPeriod(BaseModel):
    """An application window as far as the source states it."""

    start: date | None = None
    end: date | None = None
    text: str | None = None  # the source's own words whenever they are not two plain dates
    always_open: bool = False


def _to_date(match: re.Match[str]) -> date | None:
    try:
        if match["compact"]:
            raw = match["compact"]
            return date(int(raw[:4]), int(raw[4:6]), int(raw[6:8]))
        return date(int(match["y"]), int(match["m"]), int(match["d"]))
    except ValueError:  # 2025-02-30 and the like: not a date, so not guessed
        return None


def parse_date(value: str | None) -> date | None:
    """The date in ``value`` if it is exactly one well-formed date (a trailing time is allowed)."""
    if not value or not value.strip():
        return None
    text = value.strip()
    match = _DATE.match(text)
    if match is None or not _TRAILING_TIME.fullmatch(text[match.end():]):
        return None
    return _to_date(match)


def parse_period(text: str | None) -> ApplicationPeriod:
    """Parse ``YYYY-MM-DD ~ YYYY-MM-DD``, ``YYYYMMDD ~ YYYYMMDD``, ``2025.04.01~2026.03.31``,
    half-open ranges and free text. Anything that is not exactly two dates keeps its text."""
    if text is None or not text.strip():
        return ApplicationPeriod()
    original = " ".join(text.split())
    always_open = bool(_ALWAYS_OPEN.search(original))
    parts = _RANGE_SPLIT.split(original, maxsplit=1)
    if len(parts) == 2:
        start, end = parse_date(parts[0]), parse_date(parts[1])
    else:
        start, end = parse_date(parts[0]), None
    clean = len(parts) == 2 and start is not None and end is not None
    if start and end and end < start:  # reversed: keep the words, not a nonsense range
        start = end = None
        clean = False
    return ApplicationPeriod(start=start, end=end, text=None if clean else original, always_open=always_open)


def period_from_dates(start: str | None, end: str | None) -> ApplicationPeriod:
    """A period from two separate date fields (K-Startup's ``YYYYMMDD`` pair)."""
    start_date, end_date = parse_date(start), parse_date(end)
    raw = " ~ ".join(v.strip() for v in (start, end) if v and v.strip())
    unparsed = ((bool(start and start.strip()) and start_date is None)
                or (bool(end and end.strip()) and end_date is None))
    if start_date and end_date and end_date < start_date:
        return ApplicationPeriod(text=raw)
    return ApplicationPeriod(start=start_date, end=end_date, text=raw if unparsed else None,
                             always_open=bool(_ALWAYS_OPEN.search(raw)))


_TIMESTAMP_LAYOUTS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y%m%d%H%M%S", "%Y.%m.%d %H:%M:%S",
                      "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d", "%Y%m%d", "%Y.%m.%d")


def parse_kst_timestamp(value: str | None) -> datetime | None:
    """``YYYY-MM-DD HH:MM:SS`` / ``YYYYMMDDHHMMSS`` (and date-only forms) read as KST."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().rstrip(".")
    if "." in text and text.count(":") == 2 and re.search(r":\d{2}\.\d+$", text):
        text = text.rsplit(".", 1)[0]  # 2025-03-02 10:00:00.0
    for layout in _TIMESTAMP_LAYOUTS:
        try:
            return datetime.strptime(text, layout).replace(tzinfo=KST)
        except ValueError:
            continue
    return None


def parse_rfc822(value: str | None) -> datetime | None:
    """RSS ``pubDate``: RFC 822 with a numeric zone (``Mon, 03 Mar 2025 10:00:00 +0900``) or a zone
    name (``KST``, ``GMT``), ISO 8601 (``2025-03-03T10:00:00+09:00``, ``...Z``) or a local
    ``YYYY-MM-DD HH:MM:SS``. A missing or unknown zone is taken as KST (the sources are Korean)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = " ".join(value.split())
    parsed = _iso8601(text)
    if parsed is None:
        named = _KST_NAME.sub("+0900", text)
        try:
            parsed = parsedate_to_datetime(named)
        except (TypeError, ValueError, IndexError, OverflowError):
            parsed = None
    if parsed is None:
        return parse_kst_timestamp(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=KST)


_KST_NAME = re.compile(r"\b(?:KST|Asia/Seoul)\b", re.I)
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?$", re.I)


def _iso8601(text: str) -> datetime | None:
    if not _ISO.match(text):
        return None
    try:
        return datetime.fromisoformat(text.replace(",", ".").replace("z", "Z"))
    except ValueError:
        return None
