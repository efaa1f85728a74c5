"""Quality scoring of one policy: four dimensions, each explained by its deductions.

Every dimension starts at 1.0 and loses points for named rules (``Deduction``); the total is
their weighted sum (``WEIGHTS``). The functions here are pure: ``score_policy(row, as_of)``
depends on nothing but its arguments, so a stored score can be recomputed and explained.
docs/reconciler.md lists every rule with its points.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from enum import Enum
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from aegis.models.policy import PolicyRow
from reconciler.reference import (
    DATE_IN_TEXT,
    KNOWN_REGIONS,
    NATIONWIDE,
    OPEN_ENDED_PERIOD,
    SIDO_SHORT_NAMES,
    is_known_organisation,
)

METHOD = "aegis-quality/1"
"""Name and version of these rules, stored with every score (``quality_metrics.calculation_method``)."""


class Dimension(str, Enum):
    COMPLETENESS = "completeness"
    ACCURACY = "accuracy"
    CONSISTENCY = "consistency"
    TIMELINESS = "timeliness"


WEIGHTS: dict[Dimension, float] = {
    Dimension.COMPLETENESS: 0.30,
    Dimension.ACCURACY: 0.30,
    Dimension.CONSISTENCY: 0.20,
    Dimension.TIMELINESS: 0.20,
}

# Timeliness thresholds (days).
FRESH_DAYS = 30          # updated within this many days: no deduction
STALE_DAYS = 365         # the freshness deduction grows linearly up to this age
RECENTLY_CLOSED_DAYS = 30  # an application window closed at most this long ago is "recently closed"


class Deduction(BaseModel):
    """Points one rule took off one dimension, and why."""

    model_config = ConfigDict(frozen=True)

    dimension: Dimension
    rule: str
    points: float = Field(gt=0, le=1)
    reason: str


class ValidationResult(BaseModel):
    """Seed §5.1: a record with any error is rejected whatever its score."""

    is_valid: bool
    errors: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


class QualityScore(BaseModel):
    """Seed §5.1 ``QualityScore`` plus what it takes to explain it."""

    total_score: float = Field(ge=0, le=1)
    completeness: float = Field(ge=0, le=1)
    accuracy: float = Field(ge=0, le=1)
    consistency: float = Field(ge=0, le=1)
    timeliness: float = Field(ge=0, le=1)
    validation: ValidationResult
    deductions: list[Deduction] = Field(default_factory=list)
    method: str = METHOD
    weights: dict[Dimension, float] = Field(default_factory=lambda: dict(WEIGHTS))
    as_of: datetime

    def dimension(self, dim: Dimension) -> float:
        return getattr(self, dim.value)

    def deductions_for(self, dim: Dimension) -> list[Deduction]:
        return [d for d in self.deductions if d.dimension is dim]

    @property
    def calculation_method(self) -> str:
        """What ``quality_metrics.calculation_method`` holds: rules version and weights."""
        parts = " + ".join(f"{w:.2f}*{d.value}" for d, w in self.weights.items())
        return f"{METHOD}: total = {parts}"


class _Ledger:
    """Collects deductions while the rules run."""

    def __init__(self) -> None:
        self.items: list[Deduction] = []

    def take(self, dim: Dimension, rule: str, points: float, reason: str) -> None:
        self.items.append(Deduction(dimension=dim, rule=rule, points=round(points, 4), reason=reason))

    def score(self, dim: Dimension) -> float:
        return round(max(0.0, 1.0 - sum(d.points for d in self.items if d.dimension is dim)), 4)


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def _valid_url(url: str) -> bool:
    if any(ch.isspace() for ch in url.strip()):
        return False
    parts = urlsplit(url.strip())
    return parts.scheme in {"http", "https"} and bool(parts.hostname) and "." in (parts.hostname or "")


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE_CHARS = re.compile(r"[\s\-().+]")
_MARKUP_LEFTOVER = re.compile(r"<[a-zA-Z/][^>]*>|&(?:amp|lt|gt|quot|nbsp|#\d+);")


def _dates_in(text: str) -> list[date]:
    found = []
    for m in DATE_IN_TEXT.finditer(text):
        try:
            if m["compact"]:
                raw = m["compact"]
                found.append(date(int(raw[:4]), int(raw[4:6]), int(raw[6:8])))
            else:
                found.append(date(int(m["y"]), int(m["m"]), int(m["d"])))
        except ValueError:
            continue
    return found


def _has_period(row: PolicyRow) -> bool:
    return bool(row.application_start_date or row.application_end_date or row.application_always_open
                or not _blank(row.application_period_text))


# --- the four dimensions ------------------------------------------------------------------

def _completeness(row: PolicyRow, ledger: _Ledger) -> None:
    c = Dimension.COMPLETENESS
    if _blank(row.title):
        ledger.take(c, "title_missing", 0.10, "title is missing (required)")
    if _blank(row.content):
        ledger.take(c, "content_missing", 0.10, "content is missing (required)")
    elif len(row.content.strip()) < 30:
        ledger.take(c, "content_short", 0.05, f"content is only {len(row.content.strip())} characters (under 30)")
    if _blank(row.issuing_organization):
        ledger.take(c, "organisation_missing", 0.10, "issuing organisation is missing (required)")
    if _blank(row.original_url):
        ledger.take(c, "url_missing", 0.15, "no original URL to the announcement")
    if not _has_period(row):
        ledger.take(c, "period_missing", 0.15, "no application period (no dates, no text, not always open)")
    if not row.target_regions:
        ledger.take(c, "regions_missing", 0.15, "no target region")
    if _blank(row.target_group):
        ledger.take(c, "target_group_missing", 0.10, "no target group (who may apply)")
    if _blank(row.support_field):
        ledger.take(c, "support_field_missing", 0.05, "no support field")
    if _blank(row.contact_email) and _blank(row.contact_phone):
        ledger.take(c, "contact_missing", 0.10, "no contact e-mail or phone")


def _accuracy(row: PolicyRow, as_of: date, ledger: _Ledger) -> None:
    a = Dimension.ACCURACY
    if not _blank(row.original_url) and not _valid_url(row.original_url or ""):
        ledger.take(a, "url_invalid", 0.40, f"original URL {row.original_url!r} is not a valid http(s) URL")
    implausible = [d for d in (row.application_start_date, row.application_end_date)
                   if d is not None and not (2000 <= d.year <= as_of.year + 5)]
    if implausible:
        ledger.take(a, "date_implausible", 0.30,
                    f"application date {implausible[0].isoformat()} is outside 2000..{as_of.year + 5}")
    text = (row.application_period_text or "").strip()
    if (text and row.application_start_date is None and row.application_end_date is None
            and not row.application_always_open and not OPEN_ENDED_PERIOD.search(text)
            and not _dates_in(text)):
        ledger.take(a, "period_unparseable", 0.20,
                    f"application period {text[:60]!r} has no parseable date and is no known open-ended phrase")
    if not _blank(row.issuing_organization) and not is_known_organisation(row.issuing_organization):
        ledger.take(a, "organisation_unknown", 0.20,
                    f"issuing organisation {row.issuing_organization!r} is not recognisable as a public body")
    unknown_regions = [r for r in row.target_regions if r not in KNOWN_REGIONS]
    if unknown_regions:
        ledger.take(a, "region_unknown", 0.20,
                    f"unknown region value(s) {', '.join(unknown_regions[:3])} (expected a 시도 name or 전국)")
    if (email := (row.contact_email or "").strip()) and not _EMAIL.match(email):
        ledger.take(a, "email_invalid", 0.10, f"contact e-mail {row.contact_email!r} is malformed")
    if row.contact_phone is not None and row.contact_phone.strip():
        digits = _PHONE_CHARS.sub("", row.contact_phone)
        # 8-12 digits (02-2110-2500, 010-…), or a 3-4 digit service number (1357, 110).
        if not digits.isdigit() or not (8 <= len(digits) <= 12 or 3 <= len(digits) <= 4):
            ledger.take(a, "phone_invalid", 0.10, f"contact phone {row.contact_phone!r} is malformed")
    if _MARKUP_LEFTOVER.search(row.title or ""):
        ledger.take(a, "title_markup", 0.10, "title still contains HTML markup or entities")


def _consistency(row: PolicyRow, as_of: datetime, ledger: _Ledger) -> None:
    k = Dimension.CONSISTENCY
    start, end = row.application_start_date, row.application_end_date
    if start and end and end < start:
        ledger.take(k, "period_reversed", 0.60,
                    f"application ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    regions = set(row.target_regions)
    if NATIONWIDE in regions and len(regions) > 1:
        ledger.take(k, "regions_contradictory", 0.20, "regions list 전국 (nationwide) together with specific 시도")
    if row.application_always_open and end is not None:
        ledger.take(k, "always_open_with_deadline", 0.20,
                    f"marked always open but has an end date ({end.isoformat()})")
    if regions and NATIONWIDE not in regions:
        named = _regions_named_in(row.title or "")
        missing = sorted(named - regions)
        if missing and not (named & regions):
            ledger.take(k, "title_region_mismatch", 0.20,
                        f"title names {', '.join(missing)} but target regions are {', '.join(sorted(regions))}")
    text_dates = _dates_in(row.application_period_text or "")
    if len(text_dates) >= 2 and start and end and (min(text_dates) != start or max(text_dates) != end):
        ledger.take(k, "period_text_mismatch", 0.20,
                    f"period text says {min(text_dates)}..{max(text_dates)} but dates are {start}..{end}")
    if row.source_updated_at is not None and row.source_updated_at > as_of:
        ledger.take(k, "updated_in_future", 0.10,
                    f"source update time {row.source_updated_at.isoformat()} is in the future")


_TITLE_REGION = {short: official for official, shorts in SIDO_SHORT_NAMES.items()
                 for short in (official, *shorts)}
_TITLE_TAG = re.compile(r"^\s*[\[(【<]\s*([가-힣]{2,8})\s*[\])】>]")


def _regions_named_in(title: str) -> set[str]:
    """The 시도 a title names in a leading tag, e.g. ``[서울] …`` or ``(경기도) …``."""
    match = _TITLE_TAG.match(title)
    if not match:
        return set()
    tag = match[1]
    for name in sorted(_TITLE_REGION, key=len, reverse=True):
        if tag.startswith(name):
            return {_TITLE_REGION[name]}
    return set()


def _timeliness(row: PolicyRow, as_of: datetime, ledger: _Ledger) -> None:
    t = Dimension.TIMELINESS
    updated = row.source_updated_at or row.collected_at or row.updated_at
    if updated is not None:
        age_days = (as_of - _aware(updated)).days
        if age_days > FRESH_DAYS:
            fraction = min(1.0, (age_days - FRESH_DAYS) / (STALE_DAYS - FRESH_DAYS))
            ledger.take(t, "not_recently_updated", round(0.1 + 0.3 * fraction, 4),
                        f"last updated {age_days} days ago (fresh is within {FRESH_DAYS} days)")
    if not _has_period(row):
        ledger.take(t, "window_unknown", 0.30, "application window unknown: no dates, no text, not always open")
    end = row.application_end_date
    if end is not None and not row.application_always_open and end < as_of.date():
        closed_days = (as_of.date() - end).days
        if closed_days <= RECENTLY_CLOSED_DAYS:
            ledger.take(t, "window_recently_closed", 0.20, f"application window closed {closed_days} days ago")
        else:
            ledger.take(t, "window_long_closed", 0.60, f"application window closed {closed_days} days ago")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def validate_policy(row: PolicyRow) -> ValidationResult:
    """Hard rules: a record breaking any of them is rejected whatever its score."""
    errors = []
    for field in ("title", "content", "issuing_organization"):
        if _blank(getattr(row, field)):
            errors.append(f"{field} is blank")
    if row.application_start_date and row.application_end_date \
            and row.application_end_date < row.application_start_date:
        errors.append("application_end_date is before application_start_date")
    warnings = []
    if not _blank(row.original_url) and not _valid_url(row.original_url or ""):
        warnings.append("original_url is not a valid http(s) URL")
    return ValidationResult(is_valid=not errors, errors=errors, warnings=warnings)


def score_policy(row: PolicyRow, as_of: datetime) -> QualityScore:
    """Score ``row`` as of ``as_of`` (timezone-aware); deterministic for the same inputs."""
    as_of = _aware(as_of)
    ledger = _Ledger()
    _completeness(row, ledger)
    _accuracy(row, as_of.date(), ledger)
    _consistency(row, as_of, ledger)
    _timeliness(row, as_of, ledger)
    dims = {d: ledger.score(d) for d in Dimension}
    total = round(sum(WEIGHTS[d] * dims[d] for d in Dimension), 4)
    return QualityScore(total_score=min(1.0, max(0.0, total)), **{d.value: v for d, v in dims.items()},
                        validation=validate_policy(row), deductions=ledger.items, as_of=as_of)


def explain(score: QualityScore, threshold: float) -> list[str]:
    """Human-readable lines: each dimension with its deductions, the total against the threshold."""
    lines = []
    for dim in Dimension:
        lines.append(f"{dim.value:<13} {score.dimension(dim):.2f}  (weight {score.weights[dim]:.2f})")
        for d in score.deductions_for(dim):
            lines.append(f"    -{d.points:.2f}  {d.rule}: {d.reason}")
    verdict = "passes" if score.total_score >= threshold else "is below"
    lines.append(f"{'total':<13} {score.total_score:.2f}  ({verdict} the threshold {threshold:.2f})")
    if score.validation.errors:
        lines.append("invalid: " + "; ".join(score.validation.errors))
    for warning in score.validation.warnings:
        lines.append(f"warning: {warning}")
    lines.append(f"method: {score.calculation_method}; as of {score.as_of.isoformat(timespec='seconds')}")
    return lines
