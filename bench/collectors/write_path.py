"""Collector write-path benchmark: records/s from a fetched page to committed rows, and p99
latency per record (seed hot path: < 1 s). Goal: >= 10,000 records/min into PostgreSQL.

    .venv/bin/python -m bench.collectors.write_path [--records 20000] [--page-size 100] [--write-results]

Pages of Bizinfo-shaped records (the sample catalog's generator, Korean HTML and all) are
built in memory first, so the timing covers exactly map (parse, clean, validate, hash) +
store (upsert, outbox event, processing_history, one transaction per page). Three phases:

1. ``insert``: every record new;
2. ``unchanged``: the same pages again (hash comparison only, nothing written);
3. ``update``: every record changed (one field), so every row is rewritten with its event.

A record's latency is the time from its page being handed over to that page's commit.
The rows it wrote are deleted at the end (source_system ``bench-bizinfo``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

from aegis.db import connect
from aegis.settings import load_settings
from collectors.models import FetchedPage, RawItem
from collectors.samples.catalog import SampleCatalog
from collectors.sources.bizinfo import BizinfoSource
from collectors.store import store_page

SOURCE = "bench-bizinfo"


class BenchBizinfo(BizinfoSource):
    name = SOURCE

    def __init__(self) -> None:  # mapping only: no endpoint or HTTP client needed
        pass


def build_pages(rows: list[dict], page_size: int) -> list[FetchedPage]:
    return [FetchedPage(number=i // page_size + 1, total=len(rows),
                        items=[RawItem(source_id=r["pblancId"], payload=r) for r in rows[i:i + page_size]])
            for i in range(0, len(rows), page_size)]


def backend_cpu_seconds(conn) -> float:
    """CPU time used so far by the PostgreSQL backend serving ``conn`` (same machine: /proc)."""
    try:
        fields = Path(f"/proc/{conn.info.backend_pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def run_phase(conn, source: BenchBizinfo, pages: list[FetchedPage]) -> dict:
    latencies: list[float] = []
    written = 0
    cpu_started, pg_started = time.process_time(), backend_cpu_seconds(conn)
    started = time.perf_counter()
    for page in pages:
        page_started = time.perf_counter()
        outcome = store_page(conn, SOURCE, source.map_page(page), run_id="bench")
        elapsed = time.perf_counter() - page_started
        latencies.extend([elapsed] * len(page.items))
        written += outcome.new + outcome.changed
    total = time.perf_counter() - started
    cpu = (time.process_time() - cpu_started) + (backend_cpu_seconds(conn) - pg_started)
    latencies.sort()
    return {"records": len(latencies), "written": written, "seconds": total, "cpu_seconds": cpu,
            "per_cpu_minute": len(latencies) / cpu * 60 if cpu else float("nan"),
            "per_minute": len(latencies) / total * 60, "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000, "load": os.getloadavg()[0]}


def cleanup(conn) -> None:
    with conn.transaction():
        ids = [str(r[0]) for r in conn.execute("SELECT id FROM policies WHERE source_system = %s", (SOURCE,))]
        conn.execute("DELETE FROM processing_history WHERE policy_id = ANY(%s)", (ids,))
        conn.execute("DELETE FROM policies WHERE source_system = %s", (SOURCE,))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--write-results", action="store_true", help="append a row to bench/RESULTS.md")
    args = parser.parse_args()

    settings = load_settings()
    source = BenchBizinfo()
    print(f"building {args.records:,} records in pages of {args.page_size} ...", file=sys.stderr)
    rows = SampleCatalog(scale=0.01, seed=7).generated_bizinfo(args.records)
    first = build_pages(rows, args.page_size)
    changed = build_pages([dict(r, pblancNm=r["pblancNm"] + " (변경)") for r in rows], args.page_size)
    results = {}
    with connect(settings.postgres, role="owner", autocommit=True) as conn:
        cleanup(conn)
        try:
            for phase, pages in (("insert", first), ("unchanged", first), ("update", changed)):
                results[phase] = run_phase(conn, source, pages)
                r = results[phase]
                print(f"{phase:<10} {r['records']:>7,} records  {r['seconds']:6.1f} s  {r['per_minute']:>9,.0f} records/min"
                      f"  p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  written {r['written']:,}"
                      f"  cpu {r['cpu_seconds']:.1f} s (python + postgres) = {r['per_cpu_minute']:,.0f} records/cpu-min"
                      f"  load {os.getloadavg()[0]:.0f}")
        finally:
            cleanup(conn)
    if args.write_results:
        write_results(results, args)
    return 0


def write_results(results: dict, args: argparse.Namespace) -> None:
    path = Path(__file__).resolve().parents[1] / "RESULTS.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    heading = "## Collector write path (issue 4)"
    if heading not in text:
        text = text.rstrip("\n") + f"""

{heading}

`.venv/bin/python -m bench.collectors.write_path --records N --page-size P --write-results` —
Bizinfo-shaped records (Korean HTML, attachments, free-text periods) built in memory, then
mapped (parse, clean, validate, hash) and stored (upsert, `policy.validated` outbox event,
`processing_history` row; one transaction per page) into the local stack's PostgreSQL.
Latency per record = from its page being handed over to that page's commit. "per CPU-minute" =
records per minute of CPU used by the benchmark process plus its PostgreSQL backend (read from
/proc): what the write path achieves when it has a core to itself, whatever else the shared
machine is doing; "load" is the 1-minute load average at the end of the phase. Goals: ≥ 10,000
records/min, p99 < 1 s.

| date | records | page | phase | records/min (wall) | per CPU-minute | p50 | p99 | load | notes |
|---|---|---|---|---|---|---|---|---|---|
"""
    rows = "".join(
        f"| {date.today()} | {r['records']:,} | {args.page_size} | {phase} | {r['per_minute']:,.0f} | "
        f"{r['per_cpu_minute']:,.0f} | {r['p50_ms']:.0f} ms | {r['p99_ms']:.0f} ms | {r['load']:.0f} | "
        f"{r['written']:,} rows written |\n"
        for phase, r in results.items())
    path.write_text(insert_after_table(text, heading, rows), encoding="utf-8")


def insert_after_table(text: str, heading: str, rows: str) -> str:
    """Put ``rows`` right after the last row of the first table under ``heading``."""
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    in_table, end = False, len(lines)
    for i in range(start + 1, len(lines)):
        if lines[i].startswith("|"):
            in_table = True
        elif in_table:
            end = i
            break
    if not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"
    return "".join(lines[:end]) + rows + "".join(lines[end:])


if __name__ == "__main__":
    sys.exit(main())
