"""Removal markers under churn: every target's size with and without the reconciler's marker purge.

    .venv/bin/python -m bench.reconciler.marker_churn --policies 100000 --rounds 4 [--targets redis,search,neo4j,milvus]

Runs against the local stack in its own corner of every target (namespace ``churn``). Each round
creates ``--policies / --rounds`` new policies in every target through the sink's own writes and
removes them again (a delete: ``FINAL_LSN`` markers), as a create/delete churn streamed by CDC
leaves the targets; then counts what each target holds, runs the marker purge (retention 0: every
marker is old enough; nothing is pending in Kafka for this corner) and counts again. Without the
purge the markers grow by the round's size every round; with it they go back to zero. Milvus gets
placeholder vectors (the churn measures markers, not embeddings).

Prints one JSON document (``--json FILE`` also writes it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date, datetime, timezone
from pathlib import Path

from aegis.settings import Settings, load_settings
from bench.reconciler.reconcile_bench import BenchSink, bench_settings
from cdc_sinks.base import FINAL_LSN, PolicyDocument, Removal, Sink, SinkRecord

CHUNK = 2000


def documents(first_id: int, count: int) -> list[SinkRecord]:
    records = []
    for policy_id in range(first_id, first_id + count):
        document = PolicyDocument(
            id=policy_id, source_system="churn", source_id=str(policy_id), title=f"변동 정책 {policy_id}",
            content="생성 후 곧 삭제되는 정책", issuing_organization="중소벤처기업부", status="active",
            target_regions=["전국"], application_end_date=date(2027, 1, 1))
        records.append(SinkRecord(policy_id, 1000 + policy_id, f"{policy_id:064x}", document))
    return records


def marker_count(name: str, sink: Sink, settings: Settings) -> int:
    """Removal markers the target holds, counted with the store's own query."""
    if name == "search":
        if not sink.engine.alias_targets(sink.write_alias):
            return 0
        sink.engine.refresh(sink.write_alias)  # count what a search sees now, deletes included
        return sink.engine.count(sink.write_alias, {"term": {"removed": True}})
    if name == "redis":
        return sum(1 for _ in sink.client.scan_iter(match=f"{sink.prefix}*:v", count=5000))
    if name == "neo4j":
        with sink._driver.session(database=settings.neo4j.database) as session:  # noqa: SLF001 - bench count
            return session.run(f"MATCH (m:{sink.statements.label('RemovedPolicy')}) RETURN count(m) AS n"
                               ).single()["n"]
    return sink.store.count(sink.alias, "removed == true") if sink.store.alias_target(sink.alias) else 0


def churn_round(sink: Sink, first_id: int, count: int) -> float:
    started = time.perf_counter()
    for start in range(first_id, first_id + count, CHUNK):
        size = min(CHUNK, first_id + count - start)
        sink.upsert_batch(documents(start, size))
        sink.remove_batch([Removal(i, FINAL_LSN) for i in range(start, start + size)])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--targets", default="redis,search,neo4j,milvus")
    parser.add_argument("--namespace", default="churn")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    names = [n for n in args.targets.split(",") if n]
    settings = bench_settings(load_settings(), namespace=args.namespace)
    per_round = args.policies // args.rounds
    result: dict = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "policies": args.policies,
                    "rounds": args.rounds, "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                    "load_average_at_start": os.getloadavg(), "targets": {}}
    for name in names:
        sink = BenchSink(settings, name)()
        try:
            sink.drop_namespace()
            sink.ensure_ready()
            rounds, first = [], 10_000_000
            without_purge = 0
            for n in range(args.rounds):
                seconds = churn_round(sink, first + n * per_round, per_round)
                before = marker_count(name, sink, settings)
                without_purge += per_round
                started = time.perf_counter()
                purged = sink.purge_markers(time.time() + 1, keep=set())
                purge_seconds = time.perf_counter() - started
                after = marker_count(name, sink, settings)
                rounds.append({"churned": per_round, "write_seconds": round(seconds, 1), "markers_before_purge": before,
                               "purged": purged, "purge_seconds": round(purge_seconds, 2), "markers_after": after,
                               "markers_without_purge": without_purge})
                print(f"  {name}: round {n + 1}: {rounds[-1]}", file=sys.stderr, flush=True)
            result["targets"][name] = rounds
        finally:
            sink.drop_namespace()
            sink.close()
    result["load_average_at_end"] = os.getloadavg()
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
