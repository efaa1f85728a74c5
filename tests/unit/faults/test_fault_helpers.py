"""The fault suite's bookkeeping (tests/faults): poison records, the dead-letter verdict, the table."""

from __future__ import annotations

import json

import pytest

from aegis.changestream.event import decode_change
from aegis.errors import DataError
from cdc_sinks.dlq import DeadLetter
from testkit.envelopes import POISON_ID_BASE, poison_record
from tests.faults.faults_report import FaultResult, markdown
from tests.faults.faults_suite import dead_letter_problems, scenarios

MACHINE = {"date": "2026-11-26", "cores": 2, "cpu": "x", "memory_gb": 24.0, "system": "Linux", "python": "3.11",
           "loadavg_at_start": [1.0, 1.0, 1.0]}


@pytest.mark.parametrize("n", range(12))
def test_every_poison_record_is_undecodable_and_names_no_real_policy(n):
    key, value = poison_record(n)
    with pytest.raises(DataError):
        decode_change(key, value)
    assert json.loads(key).get("id", POISON_ID_BASE) >= POISON_ID_BASE


def test_the_six_kinds_differ():
    assert len({poison_record(n)[1][:20] for n in range(6)}) == 6


def letter(sink: str, offset: int, *, code: str = "DP_3006", message: str = "not JSON") -> DeadLetter:
    return DeadLetter(dlq_partition=0, dlq_offset=offset, sink=sink, error_code=code, error_kind="DataError",
                      error_message=message, original_topic="t", original_partition=0, original_offset=offset,
                      failed_at=None, key=None, value=None)


SINKS = ("search", "redis", "neo4j", "milvus")


def test_every_sink_dead_lettering_exactly_the_poison_passes():
    poison = {(0, 5), (0, 9)}
    assert dead_letter_problems([letter(s, o) for s in SINKS for _, o in poison], poison) == []


def test_a_missing_poison_an_extra_letter_and_a_letter_without_reason_are_problems():
    poison = {(0, 5), (0, 9)}
    letters = ([letter(s, o) for s in ("search", "neo4j") for _, o in poison] + [letter("redis", 5)]
               + [letter("milvus", 5), letter("milvus", 9, message=""), letter("milvus", 11)])
    problems = dead_letter_problems(letters, poison)
    assert any("sink redis dead-lettered 1 message(s) (0 not poison, 1 poison missing)" in p for p in problems)
    assert any("sink milvus dead-lettered 3 message(s) (1 not poison, 0 poison missing)" in p for p in problems)
    assert any("sink milvus: dead letters without error code or reason" in p for p in problems)
    assert not any("search" in p or "neo4j" in p for p in problems)


def test_without_poison_any_dead_letter_is_a_problem():
    assert dead_letter_problems([], set()) == []
    assert dead_letter_problems([letter("redis", 3)], set()) == [
        "sink redis dead-lettered 1 message(s) (1 not poison, 0 poison missing)"]


def test_the_table_shows_every_figure_including_misses():
    rows = [FaultResult(fault="SIGKILL sink redis", rate=20, achieved=19.8, changes=300, fault_seconds=1.1,
                        convergence_seconds=7.4, restarts=1, passed=True),
            FaultResult(fault="postgres restarted", rate=20, achieved=15.0, changes=250, write_errors=12,
                        fault_seconds=4.0, lost=2, stale=1, extra=3, lsn_mismatch=4, convergence_seconds=None,
                        loadavg={"min": 2.0, "mean": 5.0, "max": 9.5}, per_target={"search": 3.0},
                        passed=False, detail="redis: drifted")]
    text = markdown(rows, machine=MACHINE, duration=600, command="make faults", goal=30, timeout=180)
    assert "| SIGKILL sink redis | 20/s (19.8) | 300 | 0 / 0 / 0 | 0 | 0 (0) | 1.1 | 7.4 (check 0.0) | – | 1 | ? | pass |" in text
    assert "| postgres restarted | 20/s (15.0) | 250, 12 failed | 2 / 1 / 3 | 4 | 0 (0) | 4.0 | > 180 (not converged) | search 3.0 | 0 | 2.0–9.5 | FAIL |" in text
    assert "1 of 2 faults passed" in text and "* postgres restarted: redis: drifted" in text


def test_the_suite_covers_every_fault_of_the_issue():
    names = [f.name for f in scenarios(stop_seconds=60, poison=100)]
    assert names == ["SIGKILL sink search", "SIGKILL sink redis", "SIGKILL sink neo4j", "SIGKILL sink milvus",
                     "opensearch stopped 60 s", "redis stopped 60 s", "neo4j stopped 60 s", "milvus stopped 60 s",
                     "kafka-connect restarted", "kafka restarted", "postgres restarted", "100 poison records",
                     "a second member joins every sink", "SIGKILL one of two members of every sink"]
