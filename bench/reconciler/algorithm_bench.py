"""The reconciler's own cost at scale: PostgreSQL's checksums and the streaming compare, target excluded.

    .venv/bin/python -m bench.reconciler.algorithm_bench --rows 1000000

PostgreSQL is real (database ``aegis_bench_1m`` on the local stack, N active policies); the
target is an in-memory ``Sink`` holding exactly what a caught-up target would hold, so the
figures are PostgreSQL's aggregate query, the descent, and the reconciler's per-record work
(digesting, range bookkeeping), without any target's read-back cost. ``reconcile_bench.py``
measures real targets; together they bound a pass at this size.

Measures: (1) the range-checksum query, (2) a clean compare, (3) one stale record found and
repaired (including the verification re-read of its range).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from aegis.db import connect
from aegis.settings import load_settings
from bench.reconciler.reconcile_bench import load_postgres
from cdc_sinks.base import StoredVersion
from reconciler.drift import ActiveView
from reconciler.target_pass import TargetReconciler
from testkit.databases import ensure_database


class MemorySink:
    """A target in memory: sorted ids, read back in pages like a real sink."""

    name = "memory"

    def __init__(self, versions: list[StoredVersion]):
        self.ids = [v.policy_id for v in versions]
        self.by_id = {v.policy_id: v for v in versions}

    def ensure_ready(self) -> None:
        pass

    def ping(self) -> bool:
        return True

    def read_back(self, after_id: int, limit: int) -> list[StoredVersion]:
        from bisect import bisect_right

        start = bisect_right(self.ids, after_id)
        return [self.by_id[i] for i in self.ids[start:start + limit]]

    def upsert_batch(self, records) -> None:
        for r in records:
            self.by_id[r.policy_id] = StoredVersion(r.policy_id, r.lsn, r.content_hash)

    def remove_batch(self, removals) -> None:
        for r in removals:
            self.by_id.pop(r.policy_id, None)
        self.ids = sorted(self.by_id)

    def count(self) -> int:
        return len(self.ids)

    def close(self) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    base = load_settings()
    settings = base.model_copy(update={"postgres": base.postgres.model_copy(update={"db": "aegis_bench_1m"})})
    config = settings.reconciler
    result: dict = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "rows": args.rows,
                    "range_size": config.range_size, "page_size": config.page_size,
                    "load_average_at_start": os.getloadavg()}
    ensure_database(settings)
    result["load_postgres"] = load_postgres(settings, args.rows)

    with connect(settings.postgres, role="owner", autocommit=True) as conn:
        view = ActiveView(conn)
        started = time.perf_counter()
        checksums = view.range_checksums(config.range_size)
        result["postgres_checksums_seconds"] = round(time.perf_counter() - started, 2)
        result["ranges"] = len(checksums)
        versions = [StoredVersion(int(i), 1, h.strip()) for i, h in
                    conn.execute("SELECT id, content_hash FROM policies WHERE status = 'active' ORDER BY id")]

    @contextmanager
    def open_view():
        with connect(settings.postgres, role="owner", autocommit=True) as c:
            yield ActiveView(c)

    sink = MemorySink(versions)

    def timed_pass(label: str) -> dict:
        started = time.perf_counter()
        with open_view() as view:
            sums = view.range_checksums(config.range_size)
        outcome = TargetReconciler("memory", lambda: sink, open_view, config, dry_run=False).run(sums)
        seconds = time.perf_counter() - started
        r = outcome.report
        return {"pass": label, "seconds": round(seconds, 2), "status": r.status.value, "records_read": r.target_count,
                "ranges_differing": r.ranges_differing, "stale": r.stale, "repaired": r.repaired}

    result["clean"] = timed_pass("clean")
    victim = versions[len(versions) // 2].policy_id
    sink.by_id[victim] = StoredVersion(victim, 1, "0" * 64)
    result["one_stale_record"] = timed_pass("one stale record") | {"policy_id": victim}
    result["load_average_at_end"] = os.getloadavg()
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
