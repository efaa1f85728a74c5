"""The end-to-end benchmark's bookkeeping: when a change counts as visible, the mix, the report."""

from __future__ import annotations

import time

import pytest

from bench.e2e import report
from testkit.load import Change, Generator, TargetLog, replay_reads, visible
from testkit.targets import Version


def test_an_upsert_is_visible_only_with_its_hash_and_an_lsn_at_or_above_its_floor():
    change = Change("update", 7, "h2", lsn_floor=100)
    assert visible(Version(100, "h2", False), change)
    assert visible(Version(150, "h2", False), change)
    assert not visible(Version(99, "h2", False), change)  # an older write of the same hash
    assert not visible(Version(150, "h1", False), change)
    assert not visible(Version(150, "", True), change)
    assert not visible(None, change)


def test_a_reactivation_is_not_confused_with_the_version_before_its_removal():
    before = Version(50, "h1", False)  # what the target still shows if it missed both changes
    assert not visible(before, Change("reactivate", 7, "h1", lsn_floor=80))
    assert visible(Version(90, "h1", False), Change("reactivate", 7, "h1", lsn_floor=80))


def test_a_removal_needs_a_marker_at_or_above_its_floor():
    change = Change("delete", 7, None, lsn_floor=100)
    assert visible(Version(2**63 - 1, "", True), change)
    assert not visible(Version(90, "", True), change)  # an older removal
    assert not visible(Version(120, "h", False), change)
    assert not visible(None, change)


def test_the_generator_never_hands_out_an_id_in_flight_and_reactivates_with_the_stored_hash(monkeypatch):
    hashes = {i: f"h{i}" for i in range(1, 41)}
    gen = Generator("bench-test", list(hashes), hashes,
                    {"insert": 0.0, "update": 0.2, "deactivate": 0.4, "reactivate": 0.4, "delete": 0.0})
    monkeypatch.setattr(time, "monotonic", lambda: 1e9)  # deactivated ids are old enough at once
    gen.inactive.extend((i, 0.0) for i in [gen.active.pop() for _ in range(5)])
    in_flight = [gen.next() for _ in range(20)]
    ids = [c.policy_id for c in in_flight]
    assert len(ids) == len(set(ids))
    reactivated = [c for c in in_flight if c.kind == "reactivate"]
    assert reactivated and all(c.content_hash == hashes[c.policy_id] for c in reactivated)
    assert all(c.content_hash is None for c in in_flight if c.kind == "deactivate")
    for change in in_flight:
        gen.done(change)
    assert len(gen.active) + len(gen.inactive) == 40


def test_a_change_superseded_or_never_seen_counts_as_infinitely_late():
    log = TargetLog("redis")
    log.expect(Change("update", 1, "a"))
    log.expect(Change("update", 1, "b"))  # the first one was never seen
    log.lags = [(0.0, 0.1)] * 97
    log.pending = {2: Change("update", 2, "c"), 3: Change("update", 3, "d")}
    summary = report.lag_summary(log, changes=100, drain=30)
    assert summary["superseded"] == 1 and summary["not_visible_after_drain"] == 2
    assert summary["p50_ms"] == 100 and summary["p99_ms"] is None and not summary["kept_up"]


def test_sustained_is_the_highest_rate_under_two_seconds_that_the_writers_reached():
    def run(rate, achieved, p99):
        return {"rate": rate, "achieved_rate": achieved,
                "targets": {"search": {"kept_up": p99 is not None and p99 < 2000}}}

    runs = [run(50, 50, 100), run(200, 199, 400), run(1000, 700, 900), run(2000, 2000, 2500)]
    assert report.sustained(runs) == {"search": 200}


def test_the_results_table_replaces_the_placeholder_between_the_markers(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text(f"# R\n\n## End to end (issue 10)\n\n{report.START}\n{report.PLACEHOLDER}\n{report.END}\n\n## next\n")
    summary = {"machine": {"date": "2026-11-26", "cores": 2, "cpu": "x", "memory_gb": 24.0, "system": "Linux",
                           "python": "3.11", "loadavg_at_start": [1.0, 1.0, 1.0]},
               "command": "e2e_bench.py --rates 20", "sustained": {"redis": 20},
               "runs": [{"group": ["redis"], "rate": 20, "achieved_rate": 20.0, "loadavg": {"min": 1, "max": 2},
                         "targets": {"redis": {"changes": 300, "superseded": 0, "not_visible_after_drain": 0,
                                               "p50_ms": 40, "p95_ms": 60, "p99_ms": 70, "max_ms": 80,
                                               "kept_up": True}}}]}
    report.write_results(results, summary)
    text = results.read_text()
    assert report.PLACEHOLDER not in text and "| redis | 20/s (20) | 300 | 40 | 60 | 70 | 80 | 0 |" in text
    assert text.index(report.START) < text.index("| redis |") < text.index(report.END) < text.index("## next")
    results.write_text("# R\n")
    with pytest.raises(SystemExit):
        report.write_results(results, summary)


def test_a_servers_share_is_net_of_the_benchmarks_replayed_reads_which_stay_out_of_the_pipeline():
    run = {"changes": 1000, "cpu": {"wall_s": 10.0, "idle_per_second": {"neo4j": 0.01, "benchmark": 0.0},
                                    "seconds": {"neo4j": 0.4, "sink neo4j": 0.06, "benchmark": 0.5},
                                    "readers": {"neo4j": {"reads": 80, "ids": 4000, "failed": 0, "wall_s": 1.0,
                                                          "cpu_s": 0.2}}}}
    budget = report.cpu_budget(run, cores=2)
    rows = budget["components"]
    assert rows["neo4j"]["us_per_change"] == 100  # 0.4 s − 0.1 s idle − 0.2 s of reads, over 1,000 changes
    assert rows[f"{report.READS_OF}neo4j"]["us_per_change"] == 200
    assert budget["pipeline_us_per_change"] == 100 + 60  # neither the reads nor the benchmark itself
    assert "the benchmark's reads of neo4j | 200 µs" in "\n".join(report.cpu_markdown(
        {"machine": {"cores": 2}, "runs": [{"group": ["neo4j"], "rate": 100, "achieved_rate": 100.0, **run}]}))


def test_replayed_reads_have_the_pollers_sizes_and_go_round_the_ids():
    class Reader:
        def __init__(self):
            self.calls: list[list[int]] = []

        def versions(self, ids):
            self.calls.append(ids)
            if len(self.calls) == 2:
                raise ConnectionError("refused")
            return {}

    reader = Reader()
    assert replay_reads(reader, [2, 3, 1], [10, 20, 30, 40]) == 1
    assert reader.calls == [[10, 20], [30, 40, 10], [20]]
