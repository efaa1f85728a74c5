"""Reconciler benchmark: a clean pass over N active policies, a deep pass, and one drifted record found and repaired.

    .venv/bin/python -m bench.reconciler.reconcile_bench --rows 1000000 [--targets redis,search,neo4j,milvus]

Runs against the local stack (`aegis stack up`), in a database of its own (``aegis_bench``) and in
its own corner of every target (search alias ``bench-policies``, Redis prefix ``bench:policy:``,
Neo4j namespace ``bench``, Milvus alias ``bench_policies``), so nothing else is disturbed.

1. **load** (skipped when already there): N active policies into PostgreSQL (one INSERT … SELECT),
   then into each target through the sink's own ``upsert_batch``, as a fully caught-up CDC would
   have left it. Milvus gets placeholder vectors (a constant unit vector): the benchmark measures
   the reconciler, and embedding a million texts on 2 CPU cores would take most of a day; they are
   upserted directly, 5,000 at a time (the sink's stored-version read first would add ~30 min). Neo4j
   is written through the sink in batches of 5,000 (nodes, edges and dimension nodes: the deep
   pass compares all of them).
2. **clean pass**: ``Reconciler.run_pass`` over the chosen targets (in parallel, as in production)
   with the default deep slice (1/``RECONCILE_DEEP_SLICES`` of the ranges read as a reader sees
   them); reports the wall time and each target's share.
3. **deep pass** (``--deep-passes``): every record of every target read and compared field by
   field (``aegis reconcile --deep``), one target at a time so each figure is that target's alone.
4. **one drifted record**: per target, one record made stale behind the sink's back, then a pass
   over that target alone; reports the time to find and repair it, and checks it was.

Prints one JSON document with every figure (``--json FILE`` also writes it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from aegis.db import connect
from aegis.retry import RetryPolicy, retry_call
from aegis.settings import Settings, load_settings
from cdc_sinks.base import PolicyDocument, Sink, SinkRecord
from reconciler.drift import ActiveView
from reconciler.runner import PassOptions, Reconciler
from testkit.databases import ensure_database

LOAD_BATCH = 500
LOAD_RETRY = RetryPolicy(attempts=8, base_delay=1.0, max_delay=20.0)  # loading is not what is measured


def bench_settings(base: Settings, db: str = "aegis_bench", namespace: str = "bench") -> Settings:
    return base.model_copy(update={
        "postgres": base.postgres.model_copy(update={"db": db}),
        "search": base.search.model_copy(update={"index_alias": f"{namespace}-policies", "refresh_interval": "1s",
                                                 "request_timeout_seconds": 60.0}),
        "sinks": base.sinks.model_copy(update={"redis_key_prefix": f"{namespace}:policy:"}),
        "neo4j": base.neo4j.model_copy(update={"namespace": namespace}),
        "milvus": base.milvus.model_copy(update={"collection_alias": f"{namespace}_policies"}),
    })


class PlaceholderEmbedder:
    """A constant unit vector per text: Milvus gets real entities without the embedding cost."""

    version = "bench-placeholder/1"
    dimension = 384

    def __init__(self) -> None:
        from cdc_sinks.milvus.embedder import EmbedderStats

        self.stats = EmbedderStats()
        self._vector = np.full(self.dimension, 1 / np.sqrt(self.dimension), dtype=np.float32)

    def embed(self, texts):
        return np.tile(self._vector, (len(texts), 1))


class BenchSink:
    """Builds one target's sink for the bench (picklable: worker processes build their own)."""

    def __init__(self, settings: Settings, name: str):
        self.settings = settings
        self.name = name

    def __call__(self) -> Sink:
        if self.name != "milvus":
            from cdc_sinks.registry import build_sink

            return build_sink(self.name, self.settings)
        from cdc_sinks.milvus.sink import MilvusSink
        from cdc_sinks.milvus.store import MilvusStore

        return MilvusSink(MilvusStore(self.settings.milvus), self.settings.milvus, PlaceholderEmbedder())


def sink_builders(settings: Settings, names: list[str]) -> dict[str, BenchSink]:
    return {name: BenchSink(settings, name) for name in names}


def load_postgres(settings: Settings, rows: int) -> dict:
    with connect(settings.postgres, role="owner", autocommit=True) as conn:
        have = conn.execute("SELECT coalesce(max(id), 0) FROM policies").fetchone()[0]
        started = time.perf_counter()
        if have < rows:
            conn.execute(
                "INSERT INTO policies (source_system, source_id, title, content, issuing_organization, "
                "executing_organization, target_regions, target_group, support_field, status, quality_score, "
                "content_hash, application_start_date, application_end_date, original_url) "
                "SELECT 'bench', g::text, '벤치마크 청년 창업 지원사업 ' || g, "
                "'벤치마크용 정책 본문 ' || g || ': 청년 창업기업의 사업화를 지원합니다.', '중소벤처기업부', "
                "'창업진흥원', ARRAY['전국'], '청년', '창업', 'active', 0.9, "
                "encode(sha256(('bench-' || g)::text::bytea), 'hex'), current_date, current_date + (30 + g %% 300)::int, "
                "'https://www.example.go.kr/policy/' || g FROM generate_series(%s::bigint, %s::bigint) g",
                (have + 1, rows))
            conn.execute("VACUUM ANALYZE policies")
        count = conn.execute("SELECT count(*) FROM policies WHERE status = 'active'").fetchone()[0]
    return {"active": count, "inserted": max(0, rows - have), "seconds": round(time.perf_counter() - started, 1)}


def load_in_pages(settings: Settings, sink: Sink, rows: int, page: int,
                  write: Callable[[list[SinkRecord]], None], how: str) -> dict:
    """Hand every active row the target lacks to ``write``, ``page`` rows at a time, in id order."""
    started = time.perf_counter()
    written = 0
    held = sink.count()
    if held >= rows:
        return {"held": held, "written": 0, "seconds": 0.0, "how": how}
    with connect(settings.postgres, role="owner", autocommit=True) as conn:
        view = ActiveView(conn)
        lsn = view.current_lsn()
        after = held  # the bench database's ids are 1..N, loaded in order: resume after what is there
        while True:
            ids = [r[0] for r in conn.execute("SELECT id FROM policies WHERE status = 'active' AND id > %s "
                                              "ORDER BY id LIMIT %s", (after, page)).fetchall()]
            if not ids:
                break
            records = [SinkRecord(r.id, lsn, r.content_hash.strip(), PolicyDocument.from_row(r))
                       for r in view.rows(ids).values()]
            retry_call(lambda: write(records), LOAD_RETRY, what=f"loading {sink.name}")
            written += len(ids)
            after = ids[-1]
            if written % 100_000 < page:
                print(f"  {sink.name}: loaded {written:,} ({written / (time.perf_counter() - started):,.0f}/s)",
                      file=sys.stderr, flush=True)
    return {"held": held, "written": written, "seconds": round(time.perf_counter() - started, 1), "how": how}


def load_target(settings: Settings, sink: Sink, rows: int) -> dict:
    """Through the sink's own ``upsert_batch`` (Redis, search)."""
    return load_in_pages(settings, sink, rows, LOAD_BATCH, sink.upsert_batch, "through the sink")


def load_graph(settings: Settings, sink: Sink, rows: int) -> dict:
    """Neo4j: through the sink's own write path (nodes, edges, dimension nodes), 5,000 per transaction."""
    return load_in_pages(settings, sink, rows, 5000, sink.upsert_batch, "through the sink, 5,000 per batch")


def load_vectors(settings: Settings, sink: Sink, rows: int) -> dict:
    """Milvus only: the entities the sink would write (placeholder vector), upserted 5,000 at a time.

    The sink's ``upsert_batch`` first reads the stored versions of its batch (a Strong read, ~550
    policies/s here); a fresh bench collection has none, so the loader writes the same entities
    (``record_entity``) straight away. Repairs still go through the sink.
    """
    from cdc_sinks.milvus.collection import record_entity, source_text

    vector = PlaceholderEmbedder()._vector.tolist()  # noqa: SLF001 - the bench's own embedder

    def write(records: list[SinkRecord]) -> None:
        entities = [record_entity(r, source_text(r), vector, PlaceholderEmbedder.version) for r in records]
        sink.store.upsert(sink.collection, entities, chunk=5000)

    return load_in_pages(settings, sink, rows, 5000, write, "entities upserted directly")


def make_stale(settings: Settings, sink: Sink, policy_id: int) -> None:
    """Rewrite one record with another content hash at its own LSN, as a lost update would leave it."""
    with connect(settings.postgres, role="owner", autocommit=True) as conn:
        view = ActiveView(conn)
        row = view.rows([policy_id])[policy_id]
        stored = {v.policy_id: v for v in sink.read_back(policy_id - 1, 1)}
        lsn = stored[policy_id].lsn if policy_id in stored else view.current_lsn()
        old = row.model_copy(update={"title": row.title + " (old)"})
        sink.upsert_batch([SinkRecord(policy_id, lsn, "0" * 64, PolicyDocument.from_row(old))])


def run_pass(settings: Settings, names: list[str], *, deep: bool = False) -> dict:
    lines: list[str] = []

    def progress(line: str) -> None:
        lines.append(f"{time.perf_counter() - started:7.1f}s {line}")
        print(f"  {lines[-1]}", file=sys.stderr, flush=True)

    started = time.perf_counter()
    report = Reconciler(settings, sinks=sink_builders(settings, names), progress=progress).run_pass(
        PassOptions(targets=names, deep=deep))
    total = time.perf_counter() - started
    return {"seconds": round(total, 2), "exit_code": report.exit_code(), "deep": deep,
            "targets": {t.target: {"status": t.status.value, "seconds": round(t.elapsed_ms / 1000, 2),
                                   "records_by_checksum": t.target_count, "deep_checked": t.deep_checked,
                                   "deep_plan": t.deep_plan, **{k: v for k, v in t.drift_by_kind().items() if v},
                                   "repaired": t.repaired, "repair_failed": t.repair_failed, "error": t.error}
                        for t in report.targets},
            "progress": lines}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--targets", default="redis,search,neo4j,milvus")
    parser.add_argument("--passes", type=int, default=2, help="clean passes to time")
    parser.add_argument("--deep-passes", type=int, default=1, help="deep passes to time, per target")
    parser.add_argument("--skip-drift", action="store_true")
    parser.add_argument("--db", default="aegis_bench", help="PostgreSQL database of this run (ids 1..ROWS)")
    parser.add_argument("--namespace", default="bench", help="alias / key prefix / label namespace in the targets")
    parser.add_argument("--fresh", action="store_true",
                        help="drop the targets' bench corners first and load them again (e.g. after a change to "
                             "what the sinks store)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    names = [n for n in args.targets.split(",") if n]
    settings = bench_settings(load_settings(), args.db, args.namespace)
    result: dict = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "rows": args.rows,
                    "targets": names, "database": args.db, "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                    "load_average_at_start": os.getloadavg(),
                    "settings": {"range_size": settings.reconciler.range_size,
                                 "page_size": settings.reconciler.page_size}}
    ensure_database(settings)
    result["load"] = {"postgres": load_postgres(settings, args.rows)}
    builders = sink_builders(settings, names)
    for name in names:
        sink = builders[name]()
        try:
            if args.fresh:
                sink.drop_namespace()
            sink.ensure_ready()
            loader = {"neo4j": load_graph, "milvus": load_vectors}.get(name, load_target)
            result["load"][name] = loader(settings, sink, args.rows)
        finally:
            sink.close()
    result["clean_passes"] = [run_pass(settings, names) for _ in range(args.passes)]
    result["deep_passes"] = {name: [run_pass(settings, [name], deep=True) for _ in range(args.deep_passes)]
                             for name in names}
    if not args.skip_drift:
        result["one_drifted_record"] = {}
        for name in names:
            sink = builders[name]()
            try:
                policy_id = args.rows // 2 + names.index(name)
                make_stale(settings, sink, policy_id)
            finally:
                sink.close()
            drift = run_pass(settings, [name])
            drift["policy_id"] = policy_id
            result["one_drifted_record"][name] = drift
    result["load_average_at_end"] = os.getloadavg()
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
