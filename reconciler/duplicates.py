"""Duplicates: the same programme published by several sources (e.g. Bizinfo and K-Startup).

Rule (docs/reconciler.md). Two active policies from *different* sources are the same programme
when all three hold:

1. **period** — both have the same application end date (and the same start date when both
   state one), or neither has an end date (then their title keys must be equal as well);
2. **title** — the character-bigram Dice similarity of their title keys is at least
   ``RECONCILE_DUPLICATE_TITLE_SIMILARITY`` (0.8). A title key is the title NFKC-normalised,
   bracketed tags (``[서울]``, ``(재공고)``) dropped, only letters and digits kept, lower case —
   the same function as PostgreSQL's ``policy_title_key`` (migration 0002);
3. **organisation** — their organisations ({issuing, executing}, normalised) share one, or one
   name contains the other (``(재)서울경제진흥원`` ~ ``서울경제진흥원``).

The canonical record of a group is the one with the highest quality score, then the most filled
fields, then the lowest id (first seen). The others are archived with ``canonical_policy_id``
pointing at it, and a ``policy_duplicates`` row saying why.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import datetime

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict

from aegis.models.policy import PolicyRow, PolicyStatus
from reconciler.promotion import payload_of
from reconciler.quality import score_policy
from reconciler.status import StatusChange, apply_status_change

Progress = Callable[[str], None]

RULE = "period+title+organisation/1"

_BRACKETS = re.compile(r"\([^)]*\)|\[[^\]]*\]|【[^】]*】")
_NOT_WORD = re.compile(r"[^0-9A-Za-z가-힣]+")
_ORG_NOISE = re.compile(r"\([^)]*\)|주식회사|\s+")


def title_key(title: str) -> str:
    """The normalised title (same as SQL ``policy_title_key``)."""
    text = _BRACKETS.sub("", unicodedata.normalize("NFKC", title))
    return _NOT_WORD.sub("", text).lower()


def _bigrams(text: str) -> list[str]:
    return [text[i:i + 2] for i in range(len(text) - 1)] if len(text) > 1 else [text]


def title_similarity(a: str, b: str) -> float:
    """Dice coefficient of the character bigrams of two title keys (multiset), in [0, 1]."""
    ka, kb = title_key(a), title_key(b)
    if not ka or not kb:
        return 0.0
    if ka == kb:
        return 1.0
    ba, bb = _bigrams(ka), _bigrams(kb)
    remaining = list(bb)
    common = 0
    for gram in ba:
        if gram in remaining:
            remaining.remove(gram)
            common += 1
    return round(2 * common / (len(ba) + len(bb)), 4)


def _organisations(row: PolicyRow) -> set[str]:
    names = (row.issuing_organization, row.executing_organization)
    return {n for n in (_ORG_NOISE.sub("", unicodedata.normalize("NFKC", x or "")) for x in names) if n}


def organisations_match(a: PolicyRow, b: PolicyRow) -> bool:
    oa, ob = _organisations(a), _organisations(b)
    return any(x == y or x in y or y in x for x in oa for y in ob)


def same_period(a: PolicyRow, b: PolicyRow) -> bool:
    if a.application_end_date is None or b.application_end_date is None:
        return a.application_end_date is None and b.application_end_date is None \
            and title_key(a.title) == title_key(b.title)
    if a.application_end_date != b.application_end_date:
        return False
    starts = (a.application_start_date, b.application_start_date)
    return None in starts or starts[0] == starts[1]


class DuplicateMatch(BaseModel):
    """Why ``duplicate_id`` is the same programme as ``canonical_id``."""

    model_config = ConfigDict(frozen=True)

    duplicate_id: int
    canonical_id: int
    title_similarity: float
    rule: str = RULE
    reason: str
    applied: bool = True


def match(a: PolicyRow, b: PolicyRow, *, min_similarity: float) -> float | None:
    """The title similarity when ``a`` and ``b`` are the same programme by the rule, else None."""
    if a.id == b.id or a.source_system == b.source_system:
        return None
    if not same_period(a, b) or not organisations_match(a, b):
        return None
    similarity = title_similarity(a.title, b.title)
    return similarity if similarity >= min_similarity else None


def _filled_fields(row: PolicyRow) -> int:
    return sum(1 for v in row.model_dump(exclude={"raw_data", "collection_metadata", "attachments"}).values()
               if v not in (None, "", [], False))


def choose_canonical(group: Iterable[PolicyRow]) -> PolicyRow:
    """Highest quality score, then most filled fields, then the lowest id."""
    return max(group, key=lambda r: (r.quality_score or 0.0, _filled_fields(r), -r.id))


def explain_match(duplicate: PolicyRow, canonical: PolicyRow, similarity: float) -> str:
    period = (f"application period {duplicate.application_start_date or '?'}..{duplicate.application_end_date}"
              if duplicate.application_end_date else "no application end date")
    shared = sorted(_organisations(duplicate) & _organisations(canonical)) or sorted(_organisations(canonical))
    return (f"{duplicate.source_system}:{duplicate.source_id} is {canonical.source_system}:{canonical.source_id} "
            f"again: same {period}, title similarity {similarity:.2f}, shared organisation "
            f"({', '.join(shared)}); "
            f"kept #{canonical.id} (quality {canonical.quality_score or 0:.2f})")


def _rows(conn: psycopg.Connection, sql: str, params: dict) -> list[PolicyRow]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return [PolicyRow.model_validate(r) for r in cur.fetchall()]


def _candidates(conn: psycopg.Connection, row: PolicyRow) -> list[PolicyRow]:
    """Active policies from other sources in the same block (end date, or title key when undated)."""
    base = "SELECT * FROM policies WHERE status = 'active' AND id <> %(id)s AND source_system <> %(source)s "
    params = {"id": row.id, "source": row.source_system, "end": row.application_end_date,
              "start": row.application_start_date, "title": row.title}
    if row.application_end_date is not None:
        return _rows(conn, base + "AND application_end_date = %(end)s AND (application_start_date IS NULL "
                                  "OR %(start)s::date IS NULL OR application_start_date = %(start)s::date) "
                                  "ORDER BY id FOR UPDATE SKIP LOCKED", params)
    return _rows(conn, base + "AND application_end_date IS NULL "
                              "AND policy_title_key(title) = policy_title_key(%(title)s) "
                              "ORDER BY id FOR UPDATE SKIP LOCKED", params)


def archive_duplicates(conn: psycopg.Connection, policy_ids: Iterable[int], *, min_similarity: float,
                       as_of: datetime, run_id: str, dry_run: bool = False,
                       progress: Progress = lambda _: None) -> list[DuplicateMatch]:
    """Check each of ``policy_ids`` (newly active policies) against every active policy; archive duplicates.

    One transaction per checked policy; a policy archived earlier in the loop is skipped.
    """
    matches: list[DuplicateMatch] = []
    checked = 0
    for policy_id in policy_ids:
        if any(m.duplicate_id == policy_id for m in matches):
            continue
        with conn.transaction():
            found = _rows(conn, "SELECT * FROM policies WHERE id = %(id)s AND status = 'active' "
                                "FOR UPDATE SKIP LOCKED", {"id": policy_id})
            if not found:
                continue
            row = found[0]
            group = [row]
            similarity_to_row: dict[int, float] = {}
            for other in _candidates(conn, row):
                if any(m.duplicate_id == other.id for m in matches):
                    continue
                similarity = match(row, other, min_similarity=min_similarity)
                if similarity is not None:
                    group.append(other)
                    similarity_to_row[other.id] = similarity
            if len(group) == 1:
                continue
            canonical = choose_canonical(group)
            for duplicate in group:
                if duplicate.id == canonical.id:
                    continue
                similarity = (similarity_to_row[duplicate.id] if canonical.id == row.id
                              else title_similarity(duplicate.title, canonical.title))
                reason = explain_match(duplicate, canonical, similarity)
                applied = False
                if not dry_run:
                    score = score_policy(duplicate, as_of)
                    applied = apply_status_change(conn, StatusChange(
                        policy_id=duplicate.id, from_status=PolicyStatus.ACTIVE, to_status=PolicyStatus.ARCHIVED,
                        reason=f"duplicate of #{canonical.id}: {reason}", score=payload_of(score),
                        canonical_policy_id=canonical.id, expected_content_hash=duplicate.content_hash),
                        run_id=run_id)
                    if applied:
                        conn.execute(
                            "INSERT INTO policy_duplicates (policy_id, canonical_policy_id, rule, title_similarity, "
                            "reason, run_id) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (policy_id) DO UPDATE SET "
                            "canonical_policy_id = EXCLUDED.canonical_policy_id, rule = EXCLUDED.rule, "
                            "title_similarity = EXCLUDED.title_similarity, reason = EXCLUDED.reason, "
                            "run_id = EXCLUDED.run_id, detected_at = now()",
                            (duplicate.id, canonical.id, RULE, similarity, reason, run_id))
                matches.append(DuplicateMatch(duplicate_id=duplicate.id, canonical_id=canonical.id,
                                              title_similarity=similarity, reason=reason, applied=applied))
        checked += 1
        if checked % 500 == 0:
            progress(f"duplicates: checked {checked}, found {len(matches)}")
    if matches:
        progress(f"duplicates: {len(matches)} archived as duplicates" + (" (dry run)" if dry_run else ""))
    return matches


class StoredDuplicate(BaseModel):
    """A ``policy_duplicates`` row."""

    canonical_policy_id: int
    rule: str
    title_similarity: float
    reason: str
    run_id: str | None = None
    detected_at: datetime


def duplicate_of(conn: psycopg.Connection, policy_id: int) -> StoredDuplicate | None:
    """The stored duplicate decision for one policy (for ``aegis quality explain``), or None."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT canonical_policy_id, rule, title_similarity, reason, run_id, detected_at "
                    "FROM policy_duplicates WHERE policy_id = %s", (policy_id,))
        found = cur.fetchone()
    return StoredDuplicate.model_validate(found) if found else None

