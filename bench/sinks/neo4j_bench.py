"""Neo4j graph sink benchmarks (issue 6), on the running local stack (`aegis stack up`).

    .venv/bin/python -m bench.sinks.neo4j_bench write-path [--policies 20000] [--batch 500]
    .venv/bin/python -m bench.sinks.neo4j_bench pipeline   [--rate 200] [--seconds 30] [--sustained 20000]

write-path  drives ``Neo4jSink`` directly with ``SinkRecord``s: inserts, updates that move
            every policy's edges, replays (same content hash), content-only edits (same edges)
            and deletes, in batches; reports
            changes/s, the batch latency, and the CPU time per change of the Neo4j server process
            and of the sink (projection, driver) — CPU time stays meaningful on a shared, busy
            machine where wall-clock rates do not. No Kafka: the sink's own ceiling.
pipeline    the real path: UPDATE in PostgreSQL → Debezium → Kafka → ``SinkRuntime`` → Neo4j.
            (1) a paced phase at ``--rate`` changes/s, one change per transaction, reporting
            commit → visible latency; (2) a sustained phase writing ``--sustained`` changes as fast
            as PostgreSQL takes them (250 rows per transaction), reporting changes/s end to end
            and the lag (commit → visible) percentiles. "Visible" is the moment the Neo4j
            transaction holding the change committed (timed by a thin wrapper around the sink);
            "commit" is when PostgreSQL's COMMIT returned to the writer. Every change touches a
            different policy, so nothing is coalesced away.

Policies are synthetic but real-shaped: Korean agency, region, field and target-group names drawn
from pools the size of the real sources' (~300 agencies, 17 시도, ~40 fields and groups), 2–4
regions and 6–9 edges per policy. Prints Markdown rows for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Sequence

from aegis.settings import Settings, load_settings
from cdc_sinks.base import FINAL_LSN, PolicyDocument, Removal, SinkRecord, StoredVersion
from cdc_sinks.neo4j.sink import Neo4jSink
from testkit.targets import start_group_at_end

SOURCE = "bench-neo4j"
REGIONS = ["서울", "부산", "대구", "인천", "광주", "대전", "울산", "세종", "경기", "강원", "충북", "충남",
           "전북", "전남", "경북", "경남", "제주"]
AGENCY_STEMS = ["중소벤처기업부", "과학기술정보통신부", "산업통상자원부", "고용노동부", "국토교통부", "보건복지부",
                "농림축산식품부", "문화체육관광부", "여성가족부", "환경부", "해양수산부", "교육부"]
AGENCY_KINDS = ["진흥원", "재단", "센터", "공단", "테크노파크", "청", "연구원", "협회"]
FIELDS = ["금융", "기술", "인력", "수출", "내수", "창업", "경영", "주거", "보육", "교육", "고용", "복지",
          "문화", "농업", "환경", "에너지", "R&D", "판로", "컨설팅", "디지털"]
GROUPS = ["중소기업", "소상공인", "예비창업자", "청년", "대학생", "여성기업", "장애인기업", "사회적기업",
          "농업인", "어업인", "1인 가구", "한부모 가족", "영유아 가구", "노인", "중장년", "벤처기업",
          "스타트업", "수출기업", "제조업", "신혼부부"]
FUNDING = ["보조금", "융자", "바우처", "현금", "출연금", "보증", "세제 지원", "현물"]
SOURCES = ["bizinfo", "kstartup", "youthcenter", "gov24", "korea_rss", "boards"]


def agency(rng: random.Random) -> str:
    return f"{rng.choice(AGENCY_STEMS[:6])}" if rng.random() < 0.4 else \
        f"{rng.choice(REGIONS)}{rng.choice(AGENCY_STEMS)}{rng.choice(AGENCY_KINDS)}"


def policy_columns(rng: random.Random, n: int, version: int, source_id_prefix: str = "BENCH_") -> dict:
    """One real-shaped policy row (the columns the sink projects)."""
    regions = rng.sample(REGIONS, rng.randint(2, 4))
    body = {
        "source_system": SOURCE, "source_id": f"{source_id_prefix}{n:07d}",
        "title": f"2026년 {rng.choice(FIELDS)} 지원사업 {n}호 (v{version})",
        "content": f"{rng.choice(GROUPS)} 대상 {rng.choice(FIELDS)} 지원 공고 본문 {n}",
        "issuing_organization": agency(rng), "executing_organization": agency(rng),
        "target_regions": regions, "target_group": ", ".join(rng.sample(GROUPS, rng.randint(1, 2))),
        "support_field": rng.choice(FIELDS), "funding_type": rng.choice(FUNDING),
        "application_end_date": date(2026, 1, 1) + timedelta(days=rng.randint(0, 364)),
    }
    body["content_hash"] = hashlib.sha256(repr(sorted(body.items())).encode()).hexdigest()
    return body


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def load_average() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def server_cpu_seconds(settings: Settings) -> float | None:
    """CPU time (user + system) the local stack's Neo4j process has used so far, if it runs here."""
    import json

    try:
        pid = json.loads((settings.stack.state_path / "pids" / "neo4j.pid").read_text())["pid"]
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError, KeyError):
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------ write path
def write_path(settings: Settings, policies: int, batch: int) -> None:
    rng = random.Random(6)
    sink = Neo4jSink(settings.neo4j)
    sink.ensure_ready()
    base_id = 50_000_000
    with sink._driver.session(database=settings.neo4j.database) as session:  # noqa: SLF001 - bench clean-up
        session.run("MATCH (p:Policy) WHERE p.id >= $base DETACH DELETE p", base=base_id).consume()
        session.run("MATCH (m:RemovedPolicy) WHERE m.id >= $base DELETE m", base=base_id).consume()

    def records(version: int, lsn_base: int) -> list[SinkRecord]:
        out = []
        for n in range(policies):
            cols = policy_columns(rng, n, version)
            doc = PolicyDocument(id=base_id + n, status="active", **{k: v for k, v in cols.items() if k != "content_hash"})
            out.append(SinkRecord(policy_id=doc.id, lsn=lsn_base + n, content_hash=cols["content_hash"], document=doc))
        return out

    def run(label: str, items: list, write) -> None:
        latencies = []
        cpu_before, client_before = server_cpu_seconds(settings), time.process_time()
        started = time.perf_counter()
        for i in range(0, len(items), batch):
            t = time.perf_counter()
            write(items[i:i + batch])
            latencies.append(time.perf_counter() - t)
        elapsed = time.perf_counter() - started
        cpu_after, client = server_cpu_seconds(settings), time.process_time() - client_before
        server = f"{1e6 * (cpu_after - cpu_before) / len(items):.0f} µs" if cpu_before and cpu_after else "n/a"
        print(f"| {date.today()} | write-path {label} | {len(items)} | {batch} | {len(items) / elapsed:,.0f}/s | "
              f"{1000 * statistics.median(latencies):.0f} ms | {1000 * percentile(latencies, 99):.0f} ms | "
              f"{server} | {1e6 * client / len(items):.0f} µs | load {load_average()} |", flush=True)

    print("| date | phase | changes | batch | changes/s | batch p50 | batch p99 | Neo4j CPU per change | "
          "sink CPU per change | notes |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    inserts = records(1, 1_000_000)
    run("insert", inserts, sink.upsert_batch)
    updates = records(2, 2_000_000)
    run("update (edges replaced)", updates, sink.upsert_batch)
    replays = [SinkRecord(r.policy_id, r.lsn, r.content_hash, r.document) for r in updates]
    run("replay (same hash)", replays, sink.upsert_batch)
    edits = [SinkRecord(r.policy_id, 3_000_000 + i, hashlib.sha256(f"edit-{r.content_hash}".encode()).hexdigest(),
                        r.document.model_copy(update={"title": f"{r.document.title} (수정)"}))
             for i, r in enumerate(updates)]
    run("update (content only, same edges)", edits, sink.upsert_batch)
    run("delete", [Removal(r.policy_id, FINAL_LSN) for r in updates], sink.remove_batch)
    left = [v for v in sink.read_back(base_id - 1, 10) if v.policy_id >= base_id]
    if left:
        raise SystemExit(f"deleted policies still present: {left}")
    sink.close()


# -------------------------------------------------------------------------------- pipeline
@dataclass
class VisibilityClock:
    """When each (policy id, content hash) became visible in Neo4j (its transaction committed)."""

    seen: dict[tuple[int, str], float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class TimedSink:
    """The real sink, with the commit time of every upsert recorded (a bench-only wrapper)."""

    def __init__(self, inner: Neo4jSink, clock: VisibilityClock):
        self.inner, self.clock, self.name = inner, clock, inner.name

    def upsert_batch(self, records: Sequence[SinkRecord]) -> None:
        self.inner.upsert_batch(records)
        now = time.time()
        with self.clock.lock:
            for r in records:
                self.clock.seen.setdefault((r.policy_id, r.content_hash), now)

    def remove_batch(self, removals: Sequence[Removal]) -> None:
        self.inner.remove_batch(removals)

    def ensure_ready(self) -> None:
        self.inner.ensure_ready()

    def ping(self) -> bool:
        return self.inner.ping()

    def read_back(self, after_id: int, limit: int) -> list[StoredVersion]:
        return self.inner.read_back(after_id, limit)

    def count(self) -> int:
        return self.inner.count()

    def close(self) -> None:
        self.inner.close()


UPSERT_SQL = """
INSERT INTO policies (source_system, source_id, title, content, issuing_organization, executing_organization,
                      target_regions, target_group, support_field, funding_type, application_end_date,
                      content_hash, status)
VALUES (%(source_system)s, %(source_id)s, %(title)s, %(content)s, %(issuing_organization)s,
        %(executing_organization)s, %(target_regions)s, %(target_group)s, %(support_field)s, %(funding_type)s,
        %(application_end_date)s, %(content_hash)s, 'active')
ON CONFLICT (source_system, source_id) DO UPDATE SET
  title = EXCLUDED.title, content = EXCLUDED.content, issuing_organization = EXCLUDED.issuing_organization,
  executing_organization = EXCLUDED.executing_organization, target_regions = EXCLUDED.target_regions,
  target_group = EXCLUDED.target_group, support_field = EXCLUDED.support_field,
  funding_type = EXCLUDED.funding_type, application_end_date = EXCLUDED.application_end_date,
  content_hash = EXCLUDED.content_hash, status = 'active', updated_at = now()
RETURNING id
"""


def write_rows(conn, rows: list[dict]) -> tuple[list[tuple[int, str]], float]:
    """Upsert ``rows`` in one transaction; their (id, hash) and the time COMMIT returned."""
    keys = []
    with conn.cursor() as cur:
        for row in rows:
            cur.execute(UPSERT_SQL, row)
            keys.append((cur.fetchone()[0], row["content_hash"]))
    conn.commit()
    return keys, time.time()


def wait_visible(clock: VisibilityClock, keys: list[tuple[int, str]], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with clock.lock:
            if all(k in clock.seen for k in keys):
                return True
        time.sleep(0.05)
    return False


def pipeline(settings: Settings, rate: float, seconds: float, sustained: int) -> None:
    from aegis.db import connect
    from cdc_sinks.runtime import SinkRuntime
    from connectors.manage import apply_connector, wait_until_running

    apply_connector(settings)
    wait_until_running(settings, timeout=120)
    clock = VisibilityClock()
    sink = TimedSink(Neo4jSink(settings.neo4j), clock)
    run_id = uuid.uuid4().hex[:8]
    group = f"bench-neo4j-{run_id}"
    start_group_at_end(settings, group)  # earlier changes on the topic are not this run's to measure
    runtime = SinkRuntime(sink, settings, group_id=group)
    worker = threading.Thread(target=runtime.run, name="neo4j-sink", daemon=True)
    worker.start()
    rng = random.Random(62)
    pool = max(sustained, int(rate * seconds)) + 10
    source_ids = {"source_id_prefix": f"BENCH_{run_id}_"}
    print(f"seeding {pool} policies (and waiting for the sink to catch up with the topic) ...", flush=True)
    with connect(settings.postgres, role="owner") as conn:
        seeded: list[tuple[int, str]] = []
        for start in range(0, pool, 500):
            keys, _ = write_rows(conn, [policy_columns(rng, n, 1, **source_ids) for n in range(start, min(pool, start + 500))])
            seeded += keys
        if not wait_visible(clock, seeded, timeout=600):
            raise SystemExit("the sink did not catch up within 10 minutes")

        print("| date | phase | changes | changes/s (offered → end to end) | commit→visible p50 | p95 | p99 | max | notes |")
        print("|---|---|---|---|---|---|---|---|---|")
        # (1) paced: one change per transaction at `rate`
        commits: dict[tuple[int, str], float] = {}
        interval = 1 / rate
        start, n = time.monotonic(), 0
        while time.monotonic() - start < seconds:
            keys, committed = write_rows(conn, [policy_columns(rng, n % pool, 2 + n // pool, **source_ids)])
            commits[keys[0]] = committed
            n += 1
            delay = start + n * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        offered = n / (time.monotonic() - start)
        wait_visible(clock, list(commits), timeout=120)
        report("paced", commits, clock, f"{offered:,.0f}/s offered")

        # (2) sustained: as fast as PostgreSQL takes it, 250 changes per transaction, each a different policy
        commits = {}
        first = time.time()
        for begin in range(0, sustained, 250):
            rows = [policy_columns(rng, n % pool, 100 + n // pool, **source_ids) for n in range(begin, min(sustained, begin + 250))]
            keys, committed = write_rows(conn, rows)
            commits.update({k: committed for k in keys})
        written = time.time()
        wait_visible(clock, list(commits), timeout=600)
        last_visible = max(clock.seen.get(k, float("nan")) for k in commits)
        report("sustained", commits, clock,
               f"{len(commits) / (written - first):,.0f}/s offered → {len(commits) / (last_visible - first):,.0f}/s")
    runtime.stop()
    worker.join(timeout=30)
    ids = [policy_id for policy_id, _ in seeded]
    with connect(settings.postgres, role="owner", autocommit=True) as conn:
        conn.execute("DELETE FROM policies WHERE id = ANY(%s)", (ids,))
    with sink.inner._driver.session(database=settings.neo4j.database) as session:  # noqa: SLF001 - bench clean-up
        session.run("UNWIND $ids AS id MATCH (p:Policy {id: id}) CALL (p) { DETACH DELETE p } "
                    "IN TRANSACTIONS OF 2000 ROWS", ids=ids).consume()
    sink.close()


def report(phase: str, commits: dict[tuple[int, str], float], clock: VisibilityClock, rate: str) -> None:
    lags = [clock.seen[k] - t for k, t in commits.items() if k in clock.seen]
    missing = len(commits) - len(lags)
    print(f"| {date.today()} | {phase} | {len(commits)} | {rate} | {1000 * percentile(lags, 50):.0f} ms | "
          f"{1000 * percentile(lags, 95):.0f} ms | {1000 * percentile(lags, 99):.0f} ms | {1000 * max(lags):.0f} ms | "
          f"load {load_average()}{f', {missing} never visible' if missing else ''} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    wp = sub.add_parser("write-path", help="the sink alone, no Kafka")
    wp.add_argument("--policies", type=int, default=20_000)
    wp.add_argument("--batch", type=int, default=500)
    pl = sub.add_parser("pipeline", help="PostgreSQL → Debezium → Kafka → runtime → Neo4j")
    pl.add_argument("--rate", type=float, default=200.0)
    pl.add_argument("--seconds", type=float, default=30.0)
    pl.add_argument("--sustained", type=int, default=20_000)
    args = parser.parse_args()
    settings = load_settings()
    if args.mode == "write-path":
        write_path(settings, args.policies, args.batch)
    else:
        pipeline(settings, args.rate, args.seconds, args.sustained)


if __name__ == "__main__":
    main()
