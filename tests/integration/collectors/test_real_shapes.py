"""Every shape and error each source accepts (``collectors.samples.shapes``, the table in
docs/collectors.md), served by the sample server, collected through real HTTP into PostgreSQL.

A shape that carries the same data must store exactly the records of the default shape (every
normalised field; only ``raw_data`` may differ, it is the source's own payload); a one-record or
empty listing stores that; one bad item costs that item (dead-lettered with DP_2001) and
nothing else; an unreadable page is DP_1004 and stores nothing.
"""

from __future__ import annotations

import pytest

from collectors.runner import Collector
from collectors.samples.faults import parse_fault_option
from collectors.samples.shapes import CASES, ERROR_CASES, Outcome, Shape

from collectors_helpers import settings_for, wipe_collected

pytestmark = pytest.mark.integration

COMPARED = ("title", "content", "issuing_organization", "executing_organization", "target_regions", "target_group",
            "support_field", "funding_type", "application_start_date", "application_end_date", "application_period_text",
            "application_always_open", "original_url", "contact_email", "contact_phone", "attachments",
            "source_updated_at")
MATRIX = [(shape, outcome, source) for shape, (outcome, sources) in CASES.items() for source in sources
          if shape is not Shape.LIST]


def stored(db, source: str) -> dict[str, tuple]:
    rows = db.execute(f"SELECT source_id, {', '.join(COMPARED)} FROM policies WHERE source_system = %s", (source,))
    return {r[0]: tuple(r[1:]) for r in rows}


def dead_letters(db, source: str) -> list[tuple[str | None, str, str]]:
    return db.execute("SELECT source_id, error_code, reason FROM dead_letters WHERE source_system = %s ORDER BY id",
                      (source,)).fetchall()


def collect(stack, sample_server, source: str, shapes: list[Shape], db):
    wipe_collected(db, [source])
    sample_server.faults.reset()
    sample_server.shapes.set(source, shapes)
    try:
        (summary,) = Collector(settings_for(stack, sample_server)).run_once([source]).summaries
    finally:
        sample_server.shapes.reset()
    return summary, stored(db, source), dead_letters(db, source)


@pytest.fixture(scope="module")
def baselines(stack, db, sample_server):
    """What each source stores from its default shape (``list``)."""
    found = {}
    for source in CASES[Shape.LIST][1]:
        summary, records, dead = collect(stack, sample_server, source, [], db)
        assert summary.error is None and records, (source, summary)
        found[source] = (records, dead)
    return found


@pytest.mark.parametrize("shape, outcome, source", MATRIX, ids=[f"{s}-{sh.value}" for sh, _, s in MATRIX])
def test_every_shape_through_real_http_into_postgres(stack, db, sample_server, baselines, shape, outcome, source):
    base_records, base_dead = baselines[source]
    summary, records, dead = collect(stack, sample_server, source, [shape], db)

    if outcome is Outcome.PAGE_ERROR:
        assert summary.error is not None and summary.error.code == "DP_1004", summary
        assert records == {} and dead == [] and summary.pages == 0
        return
    assert summary.error is None, summary.error
    if outcome is Outcome.SAME:
        assert records == base_records
        assert [d[:2] for d in dead] == [d[:2] for d in base_dead]
    elif outcome is Outcome.ONE:
        ((only_id, only),) = records.items()
        assert base_records[only_id] == only
    elif outcome is Outcome.NONE:
        assert records == {} and dead == [] and summary.fetched == 0
    elif outcome is Outcome.REJECT_ONE:
        missing = set(base_records) - set(records)
        assert len(missing) == 1 and len(records) == len(base_records) - 1
        assert all(records[i] == base_records[i] for i in records)     # the rest stored, unchanged
        (new,) = [d for d in dead if d[:2] not in {b[:2] for b in base_dead}]
        assert new[0] == missing.pop() and new[1] == "DP_2001" and new[2]
    elif outcome is Outcome.REJECT_EXTRA:
        assert records == base_records
        (new,) = [d for d in dead if d[:2] not in {b[:2] for b in base_dead}]
        assert new[0] is None and new[1] == "DP_2001" and "not an object" in new[2]


ERRORS = [(spec, code, framing) for spec, code, _ in ERROR_CASES for framing in ([], [Shape.BOM], [Shape.WHITESPACE])
          if not (framing and spec.split("=")[1].split(":")[0].rstrip("x-1") in ("truncated", "entity_bomb", "cut_json"))]


@pytest.mark.parametrize("spec, code, framing", ERRORS,
                         ids=[f"{s}{'-' + f[0].value if f else ''}" for s, _, f in ERRORS])
def test_every_error_answer_in_every_framing(stack, db, sample_server, spec, code, framing):
    fault = parse_fault_option(spec)
    wipe_collected(db, [fault.source])
    sample_server.faults.reset()
    sample_server.faults.add(fault)
    sample_server.shapes.set(fault.source, framing)
    try:
        (summary,) = Collector(settings_for(stack, sample_server)).run_once([fault.source]).summaries
    finally:
        sample_server.shapes.reset()
        sample_server.faults.reset()
    if code == "-":
        assert summary.error is None and summary.fetched == 0
    else:
        assert summary.error is not None and summary.error.code == code, summary
        assert summary.error.hint
        assert db.execute("SELECT count(*) FROM policies WHERE source_system = %s", (fault.source,)).fetchone()[0] == 0
