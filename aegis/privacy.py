"""The one masking policy: personal data never leaves PostgreSQL unmasked (docs/privacy.md).

Detection is ko-pii's (a maintained rule-based package for Korean public-sector text): resident
and foreigner registration numbers (주민등록번호, 외국인등록번호: checksum-valid ones and the
post-2020 numbers without a check digit, both with a real birth date), phone numbers in their
written forms (``010-1234-5678``, ``01012345678``, ``+82 10 …``, ``(051) 860-6600``), e-mail
addresses (plain, Korean domains, ``(at)`` obfuscations), and card / bank-account numbers (card
numbers by Luhn and brand, accounts when a bank name or 계좌 labels them). One rule of our own adds
card numbers labelled 카드번호 that fail Luhn (the issue asks for "labelled" numbers).

What is kept, and why (the decision; docs/privacy.md explains it):

* **landline and representative numbers** (``02``/``0xx`` area codes, ``15xx``-``18xx``): in a
  policy announcement these are the organisation's lines (문의처, 담당 부서), published by the
  public body so that applicants can call; they are contact data, not personal data. Such a
  number is masked when the text labels it as a person's own (자택, 집, 개인, 본인, 휴대).
* **mobile numbers** (``01x``) and **internet phones** (``070``) reach a person: masked except the
  prefix (``010-****-****``).
* **e-mail addresses**: the local part names a person far more often than a function, even on
  government domains (``hong123@korea.kr``): always masked, the domain kept (``*******@korea.kr``).
* **registration, card and account numbers**: masked whole.

Masking replaces each letter or digit of a span by ``*`` repeated to the character's UTF-8 length,
so a masked text has the same length in bytes as the original: ``mask_bytes`` can mask inside
binary messages (Avro strings carry their byte length) without breaking them, and the result is
stable (masking masked text changes nothing).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ko_pii.core.overlap import resolve_overlaps
from ko_pii.core.types import DetectionResult, RiskLevel
from ko_pii.core.unicode_norm import needs_normalization, normalize_unicode, remap_to_source
from ko_pii.patterns import account, card, email, frn, phone, rrn

MASKING_POLICY_VERSION = "pii-v1"
"""Bumped whenever what is detected or how it is masked changes: ``aegis privacy backfill`` then
re-masks every stored row, and the collector's stored content hash changes with it."""


class PiiKind(str, Enum):
    RRN = "rrn"              # 주민등록번호
    FRN = "frn"              # 외국인등록번호
    MOBILE = "mobile"        # 01x, 070
    PHONE = "phone"          # landline / representative: kept unless labelled personal
    EMAIL = "email"
    CARD = "card"
    ACCOUNT = "account"


@dataclass(frozen=True)
class Finding:
    """One piece of personal data found in a text: what, where, and whether it is masked."""

    kind: PiiKind
    start: int
    end: int
    masked: bool


# Cheap pre-check: every kind we detect has a digit or an e-mail marker in it.
_MAYBE_PII = re.compile(r"\d|@|＠|\(\s*at\s*\)|\[\s*at\s*\]", re.IGNORECASE)
# A digit run glued to an ASCII identifier (``PBLN_372678761525446``, a 기업마당 policy id) is
# part of that identifier; 1 in ~500 random 15-digit ids passes as an Amex number by Luhn and brand.
_IDENTIFIER_BEFORE = re.compile(r"[A-Za-z][A-Za-z0-9]*_?$")
# A landline labelled as a person's own number (자택 전화 051-…, 집: 02-…).
_PERSONAL_LABEL = re.compile(r"(자택|집|개인|본인|휴대|핸드폰|보호자)\s*(전화|번호|연락처)?\s*[:：)]?\s*$")
# Card numbers labelled as such, whatever their checksum (ko-pii requires a valid Luhn digit).
_LABELLED_CARD = re.compile(r"(?:카드\s*번호|카드번호|card\s*(?:no\.?|number))\s*[:：]?\s*"
                            r"((?<![0-9])(?:[0-9]{4}[-\s.][0-9]{4}[-\s.][0-9]{4}[-\s.][0-9]{1,7}"
                            r"|[0-9]{4}[-\s.][0-9]{6}[-\s.][0-9]{5}|[0-9]{13,19})(?![0-9]))", re.IGNORECASE)
_KIND_BY_LABEL = {"RRN": PiiKind.RRN, "FRN": PiiKind.FRN, "EMAIL": PiiKind.EMAIL, "CARD": PiiKind.CARD,
                  "ACCOUNT": PiiKind.ACCOUNT}
_DETECTORS = (rrn.detect, frn.detect, card.detect, phone.detect, email.detect, account.detect)


def _labelled_cards(text: str) -> Iterable[DetectionResult]:
    for m in _LABELLED_CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group(1))
        if 13 <= len(digits) <= 19:
            yield DetectionResult(label="CARD", text=m.group(1), start=m.start(1), end=m.end(1),
                                  risk_level=RiskLevel.HIGH, confidence=0.9, evidence=["label:card"])


def _candidates(text: str) -> list[DetectionResult]:
    found: list[DetectionResult] = list(_labelled_cards(text))
    for detect in _DETECTORS:
        found.extend(detect(text))
    return found


def _detections(text: str) -> list[DetectionResult]:
    """ko-pii's detectors for our kinds, on the text and on its Unicode-folded form (full-width
    digits, zero-width characters), offsets mapped back to ``text``; overlaps resolved by risk."""
    raw = _candidates(text)
    if needs_normalization(text):
        folded, offsets = normalize_unicode(text)
        if folded != text:
            raw.extend(remap_to_source(_candidates(folded), offsets, text))
    return resolve_overlaps(raw)


def _finding(text: str, d: DetectionResult) -> Finding | None:
    if d.label == "PHONE":
        kind_of_line = d.extra.get("type")
        if kind_of_line in ("mobile", "voip"):
            return Finding(PiiKind.MOBILE, d.start, d.end, True)
        personal = bool(_PERSONAL_LABEL.search(text[max(0, d.start - 16):d.start]))
        return Finding(PiiKind.PHONE, d.start, d.end, personal)
    if d.label == "RRN" and d.extra.get("gender_digit") in (9, 0):
        # Born in the 1800s: no living person. A 법인등록번호 has 0 in that place, and ~1 in 10 of
        # them passes the RRN checksum by chance (ko-pii only spares those that fail it).
        return None
    if d.label == "CARD" and "label:card" not in d.evidence \
            and _IDENTIFIER_BEFORE.search(text[max(0, d.start - 32):d.start]):
        return None
    kind = _KIND_BY_LABEL.get(d.label)
    return None if kind is None else Finding(kind, d.start, d.end, True)


def find_personal_data(text: str) -> list[Finding]:
    """Every piece of personal data in ``text`` (kept landlines included, ``masked=False``)."""
    if not text or not _MAYBE_PII.search(text):
        return []
    return [f for f in (_finding(text, d) for d in _detections(text)) if f is not None]


def _star(chars: str) -> str:
    return "".join("*" * len(c.encode("utf-8", "surrogatepass")) if c.isalnum() else c for c in chars)


def _mask_span(kind: PiiKind, span: str) -> str:
    if kind is PiiKind.EMAIL:
        at = max(span.rfind("@"), span.rfind("＠"))
        if at > 0:
            return _star(span[:at]) + span[at:]
        return _star(span)
    if kind is PiiKind.MOBILE:
        prefix = re.match(r"\D*\d{1,3}", span)  # "010", "+82", "(010"
        keep = prefix.end() if prefix and prefix.end() < len(span) else 0
        return span[:keep] + _star(span[keep:])
    return _star(span)


def mask_text(text: str) -> str:
    """``text`` with every masked finding replaced (see the module doc); same length in bytes."""
    if not text or not _MAYBE_PII.search(text):
        return text
    if len(text) <= 64:  # contact fields and short labels repeat: one detection each
        return _mask_short(text)
    return _mask(text)


@lru_cache(maxsize=8192)
def _mask_short(text: str) -> str:
    return _mask(text)


def _mask(text: str) -> str:
    findings = [f for f in find_personal_data(text) if f.masked]
    if not findings:
        return text
    out, at = [], 0
    for f in sorted(findings, key=lambda f: f.start):
        if f.start < at:
            continue
        out.append(text[at:f.start])
        out.append(_mask_span(f.kind, text[f.start:f.end]))
        at = f.end
    out.append(text[at:])
    return "".join(out)


def mask_email_field(value: str | None) -> str | None:
    """A contact e-mail field: its local part starred even when the detector does not take it
    for an address (a field named e-mail holds one, however it is written)."""
    if value is None:
        return None
    masked = mask_text(value)
    at = masked.rfind("@")
    return _star(masked[:at]) + masked[at:] if at > 0 else masked


def mask_value(value: str | None) -> str | None:
    """Seed §6.5's rule, kept for the free-form contact address: first and last two characters
    kept, the rest starred (short values starred whole)."""
    if value is None:
        return None
    if len(value) <= 4:
        return "*" * len(value)
    return value[:2] + "*" * (len(value) - 4) + value[-2:]


def mask_json(value: Any) -> Any:
    """Every string inside ``value`` (dicts, lists, keys included) masked."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {mask_text(k) if isinstance(k, str) else k: mask_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_json(v) for v in value]
    return value


def mask_bytes(raw: bytes | None) -> bytes | None:
    """A message value or key masked in place: decoded as UTF-8 (undecodable bytes kept as they
    are), masked, encoded again — same length, so binary framing (Avro) stays valid."""
    if not raw:
        return raw
    text = raw.decode("utf-8", "surrogateescape")
    masked = mask_text(text)
    return raw if masked == text else masked.encode("utf-8", "surrogateescape")


# Query parameters that carry credentials in the sources' URLs (data.go.kr serviceKey, bizinfo
# crtfcKey, 온통청년 apiKeyNm) and the usual suspects.
_SECRET_PARAMS = re.compile(r"(key|token|secret|password|passwd|pwd|auth|signature|credential)", re.IGNORECASE)


def redact_url(url: str | None) -> str | None:
    """``url`` without credentials: user info dropped, secret-looking query values replaced."""
    if not url:
        return url
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = urlencode([(k, "REDACTED" if _SECRET_PARAMS.search(k) else v)
                       for k, v in parse_qsl(parts.query, keep_blank_values=True)], safe="")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def masked_content_hash(source_content_hash: str) -> str:
    """The content hash stored with a masked row: the unmasked record's hash and the policy
    version, so a new masking policy makes every row a new version (and the targets rewrite it)."""
    return hashlib.sha256(f"{source_content_hash.strip()}:{MASKING_POLICY_VERSION}".encode()).hexdigest()


class ColumnTreatment(str, Enum):
    """How a streamed column is kept free of personal data."""

    FREE_TEXT = "free_text"            # detected personal data masked (lists: every element)
    FREE_TEXT_JSON = "free_text_json"  # every string inside the JSON masked
    EMAIL = "email"                    # a contact e-mail: the local part always masked
    ADDRESS = "address"                # seed §6.5's first-two/last-two rule
    NOT_PERSONAL = "not_personal"      # ids, codes, dates, numbers, hashes, pipeline bookkeeping


POLICY_COLUMNS: dict[str, ColumnTreatment] = {
    **{name: ColumnTreatment.FREE_TEXT for name in (
        "title", "content", "issuing_organization", "executing_organization", "target_regions", "target_group",
        "target_industry", "support_field", "funding_type", "application_period_text", "original_url",
        "contact_phone")},
    "attachments": ColumnTreatment.FREE_TEXT_JSON,
    "contact_email": ColumnTreatment.EMAIL,
    "contact_address": ColumnTreatment.ADDRESS,
    **{name: ColumnTreatment.NOT_PERSONAL for name in (
        "id", "source_system", "source_id", "application_start_date", "application_end_date",
        "application_always_open", "collection_metadata", "content_hash", "status", "quality_score",
        "canonical_policy_id", "source_updated_at", "collected_at", "created_at", "updated_at",
        "support_amount_krw", "row_digest")},
}
"""Every column of ``policies`` and how it is kept clean. ``tests/integration/aegis/test_privacy_schema``
fails when a published table has a column missing here, so a new column cannot be streamed unclassified."""

OUTBOX_COLUMNS: dict[str, ColumnTreatment] = {
    "payload": ColumnTreatment.FREE_TEXT_JSON,
    **{name: ColumnTreatment.NOT_PERSONAL for name in (
        "id", "aggregatetype", "aggregateid", "type", "schema_version", "created_at")},
}


def mask_column(column: str, value: Any) -> Any:
    """One ``policies`` column's value with its treatment applied (idempotent)."""
    return _mask_column(POLICY_COLUMNS.get(column, ColumnTreatment.FREE_TEXT), value)


def _mask_column(treatment: ColumnTreatment, value: Any) -> Any:
    if value is None or treatment is ColumnTreatment.NOT_PERSONAL:
        return value
    if treatment is ColumnTreatment.EMAIL:
        return mask_email_field(value)
    if treatment is ColumnTreatment.ADDRESS:
        return mask_value(value)
    if treatment is ColumnTreatment.FREE_TEXT_JSON:
        return mask_json(value)
    if isinstance(value, list):
        return [mask_text(v) if isinstance(v, str) else v for v in value]
    return mask_text(value)


def mask_policy_values(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int]]:
    """A ``policies`` row's values (column → value) with the masking policy applied, and how many
    values each column had masked. A column the policy does not know is masked as free text."""
    masked: dict[str, Any] = {}
    changed: dict[str, int] = {}
    for column, value in values.items():
        new = _mask_column(POLICY_COLUMNS.get(column, ColumnTreatment.FREE_TEXT), value)
        masked[column] = new
        if new != value:
            changed[column] = changed.get(column, 0) + 1
    return masked, changed


def raw_digest(raw: Any) -> str:
    """sha256 of a source payload's canonical JSON (sorted keys, no spaces): its lineage digest."""
    import json

    body = json.dumps(raw, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()
