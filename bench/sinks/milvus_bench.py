"""Milvus sink benchmarks (results in bench/RESULTS.md, "Milvus sink").

    .venv/bin/python -m bench.sinks.milvus_bench embed --texts 300 --rounds 3
    .venv/bin/python -m bench.sinks.milvus_bench latency --rate 10 --seconds 60
    .venv/bin/python -m bench.sinks.milvus_bench catchup --policies 5000

``embed`` (needs only Milvus): on the same real-shaped policy texts (the sample catalog's Bizinfo
items: Korean title + HTML summary, target, method and period, ~200 characters after
cleaning), in one process and interleaved over ``--rounds``:

* bare ``SentenceTransformer.encode`` (same model, batch size and token budget as the sink; and
  with the model's default 256-token limit);
* the sink: ``upsert_batch`` of new policies in batches of 100 into a fresh collection — the
  whole write path (stored-version read, embedding, upsert);
* every backend (torch fp32, ONNX fp32, ONNX int8) with mean / min cosine to torch fp32, and the
  ONNX model with and without length-sorted batching.

``latency`` (needs the whole stack and the Debezium connector): content changes committed to
PostgreSQL at ``--rate``/s; a poller reads the content hash Milvus returns (Strong consistency,
through the alias) every ~20 ms; reports commit → searchable p50/p95/p99.

``catchup``: ``--policies`` new active policies in one transaction; time until Milvus holds all.

The sink runs as its own process (``aegis sinks run milvus``) with a fresh alias and consumer
group for ``latency`` and ``catchup``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
from aegis.settings import Settings, load_settings
from cdc_sinks.base import PolicyDocument, SinkRecord


# ---------------------------------------------------------------------------- texts
def sample_documents(count: int, seed: int = 7) -> list[PolicyDocument]:
    """Real-shaped Korean policies from the sample catalog's Bizinfo generator."""
    from collectors.samples.catalog import SampleCatalog

    items = SampleCatalog(seed=seed).generated_bizinfo(count)
    rng = random.Random(seed)
    documents = []
    for i, item in enumerate(items):
        content = (f"{item['bsnsSumryCn']}<p>□ 지원대상 : {item['trgetNm']}</p>"
                   f"<p>□ 신청방법 : {item['reqstMthPapersCn']}</p><p>□ 접수기간 : {item['reqstBeginEndDe']}</p>"
                   + ("<p>※ 세부 내용은 공고문 참조</p>" if rng.random() < 0.5 else ""))
        documents.append(PolicyDocument(
            id=i + 1, source_system="bizinfo", source_id=item["pblancId"], title=item["pblancNm"], content=content,
            issuing_organization=item["jrsdInsttNm"], target_regions=item["hashtags"].split(",")[1:],
            support_field=item["pldirSportRealmLclasCodeNm"], status="active"))
    return documents


def cosine_stats(vectors: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    cos = (vectors * reference).sum(axis=1)
    return round(float(cos.mean()), 4), round(float(cos.min()), 4)


# ---------------------------------------------------------------------------- embed
def embed(args) -> dict:
    import torch

    from cdc_sinks.milvus.embedder import get_embedder, load_sentence_transformer
    from cdc_sinks.milvus.sink import build_milvus_sink
    from cdc_sinks.milvus.text import embedding_text

    base = load_settings(env_file=None)
    documents = sample_documents(args.texts)
    texts = [embedding_text(d) for d in documents]
    settings = base.model_copy(update={"milvus": base.milvus.model_copy(
        update={"collection_alias": f"bench_{secrets.token_hex(4)}"})})
    batch = settings.embedding.batch_size
    bare = load_sentence_transformer(settings.embedding)
    bare_default = load_sentence_transformer(settings.embedding.model_copy(update={"max_tokens": 512}))
    bare_default.max_seq_length = 256
    sink = build_milvus_sink(settings)
    sink.ensure_ready()
    bare.encode(texts[:8])
    sink.embedder.embed(texts[:8])
    timings: dict[str, list[float]] = {"bare": [], "bare_256": [], "sink": []}
    next_id = 1
    try:
        for _ in range(args.rounds):
            started = time.perf_counter()
            bare.encode(texts, batch_size=batch, normalize_embeddings=True, show_progress_bar=False)
            timings["bare"].append(len(texts) / (time.perf_counter() - started))
            started = time.perf_counter()
            bare_default.encode(texts, batch_size=batch, normalize_embeddings=True, show_progress_bar=False)
            timings["bare_256"].append(len(texts) / (time.perf_counter() - started))
            records = []
            for doc in documents:  # new ids and hashes every round: every text is embedded
                records.append(SinkRecord(next_id, next_id, secrets.token_hex(16), doc.model_copy(update={"id": next_id})))
                next_id += 1
            started = time.perf_counter()
            for start in range(0, len(records), 100):
                sink.upsert_batch(records[start:start + 100])
            timings["sink"].append(len(records) / (time.perf_counter() - started))
            print(json.dumps({k: round(v[-1], 1) for k, v in timings.items()}), file=sys.stderr, flush=True)
        tokens = [len(bare.tokenizer(t, truncation=True, max_length=settings.embedding.max_tokens)["input_ids"])
                  for t in texts]
        tokens_256 = [len(bare.tokenizer(t, truncation=True, max_length=256)["input_ids"]) for t in texts]
    finally:
        sink.drop_namespace()
        sink.close()

    reference = get_embedder(settings.embedding).embed(texts)
    backends = {}
    for backend in ("torch", "onnx", "onnx-int8"):
        embedder = get_embedder(settings.embedding.model_copy(update={"backend": backend}))
        embedder.embed(texts[:8])
        rates = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            vectors = embedder.embed(texts)
            rates.append(len(texts) / (time.perf_counter() - started))
        mean_cos, min_cos = cosine_stats(vectors, reference)
        backends[backend] = {"texts_per_s": round(statistics.median(rates), 1), "cos_mean": mean_cos, "cos_min": min_cos}
        if backend == "onnx":
            backends["onnx-unsorted"] = {"texts_per_s": round(_unsorted_rate(embedder, texts, args.rounds), 1),
                                         "cos_mean": mean_cos, "cos_min": min_cos}
    med = {k: round(statistics.median(v), 1) for k, v in timings.items()}
    return {"texts": len(texts), "chars_mean": round(statistics.mean(len(t) for t in texts)),
            "tokens_mean": round(statistics.mean(tokens), 1), "tokens_mean_256": round(statistics.mean(tokens_256), 1),
            "token_budget": settings.embedding.max_tokens, "batch_size": batch, "rounds": args.rounds,
            "torch_threads": torch.get_num_threads(), "bare_texts_per_s": med["bare"],
            "bare_256_texts_per_s": med["bare_256"], "sink_texts_per_s": med["sink"],
            "sink_vs_bare": round(med["sink"] / med["bare"], 3), "backends": backends}


# ---------------------------------------------------------------------------- same-vectors
def same_vectors(args) -> dict:
    """Whether two backends give the same vectors: largest element difference, lowest cosine, and
    how often a text's nearest neighbours (by inner product, as Milvus ranks them) are the same."""
    from cdc_sinks.milvus.embedder import get_embedder
    from cdc_sinks.milvus.text import embedding_text

    base = load_settings(env_file=None).embedding
    texts = [embedding_text(d) for d in sample_documents(args.texts)]
    vectors = {}
    for backend in (args.reference, args.candidate):
        embedder = get_embedder(base.model_copy(update={"backend": backend}))
        vectors[backend] = embedder.embed(texts)
    ref, cand = vectors[args.reference], vectors[args.candidate]
    k = args.neighbours
    ref_top = np.argsort(-(ref @ ref.T), axis=1)[:, 1:k + 1]
    cand_top = np.argsort(-(cand @ cand.T), axis=1)[:, 1:k + 1]
    same_order = int((ref_top == cand_top).all(axis=1).sum())
    same_set = int(sum(set(a) == set(b) for a, b in zip(ref_top, cand_top)))
    cosine = (ref * cand).sum(axis=1)
    return {"texts": len(texts), "reference": args.reference, "candidate": args.candidate,
            "max_abs_difference": float(np.abs(ref - cand).max()), "min_cosine": float(cosine.min()),
            "mean_cosine": float(cosine.mean()), "neighbours": k,
            "texts_with_same_neighbours_in_order": same_order, "texts_with_same_neighbour_set": same_set}


def _unsorted_rate(embedder, texts: list[str], rounds: int) -> float:
    """The ONNX embedder's batches in input order (no length sorting)."""
    encoded = embedder.tokenizer(texts, truncation=True, max_length=embedder.max_tokens, padding=False)["input_ids"]
    size = embedder.settings.batch_size
    rates = []
    for _ in range(rounds):
        started = time.perf_counter()
        for start in range(0, len(texts), size):
            embedder._encode_batch(encoded[start:start + size])
        rates.append(len(texts) / (time.perf_counter() - started))
    return statistics.median(rates)


# ---------------------------------------------------------------------------- pipeline
class MilvusPipeline:
    """A working set of real-shaped policies in PostgreSQL and a fresh `aegis sinks run milvus`."""

    def __init__(self, working_set: int, *, start: bool = True):
        from aegis.db import connect
        from cdc_sinks.milvus.store import MilvusStore
        from testkit.targets import start_group_at_end

        self.ns = secrets.token_hex(4)
        self.env = {"SINKS_GROUP_ID_PREFIX": f"bench-{self.ns}-", "METRICS_PORT": "0",
                    "MILVUS_COLLECTION_ALIAS": f"bench_{self.ns}"}
        os.environ.update(self.env)
        self.settings: Settings = load_settings(env_file=None)
        self.conn = connect(self.settings.postgres, role="owner", autocommit=True)
        self.store = MilvusStore(self.settings.milvus)
        self.alias = self.settings.milvus.collection_alias
        self.documents = sample_documents(max(working_set, 1), seed=11)
        start_group_at_end(self.settings, f"bench-{self.ns}-milvus")
        self.ids = self.insert(self.documents) if working_set else []
        self.log_path = self.settings.stack.state_path / "logs" / f"bench-milvus-{self.ns}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen | None = None
        if start:
            self.start()

    def start(self) -> None:
        """Start `aegis sinks run milvus` (its group began at the topic's end when the pipeline was made),
        in a session of its own as the main job starts it (and so, with autogroup scheduling, in a CPU
        share of its own, which EMBEDDING_NICE lowers)."""
        self.process = subprocess.Popen([str(Path(sys.executable).parent / "aegis"), "sinks", "run", "milvus"],
                                        env={**os.environ, **self.env}, stdout=self.log_path.open("ab"),
                                        stderr=subprocess.STDOUT, cwd=str(ROOT), start_new_session=True)

    def insert(self, documents: list[PolicyDocument]) -> list[int]:
        rows = [(f"bench-{self.ns}", f"{self.ns}-{d.source_id}-{secrets.token_hex(3)}", d.title, d.content,
                 d.issuing_organization, secrets.token_hex(32)) for d in documents]
        ids: list[int] = []
        with self.conn.transaction():
            for row in rows:
                ids.append(self.conn.execute(
                    "INSERT INTO policies (source_system, source_id, title, content, issuing_organization, "
                    "content_hash, status) VALUES (%s, %s, %s, %s, %s, %s, 'active') RETURNING id", row).fetchone()[0])
        return ids

    def visible_hashes(self, ids: list[int]) -> dict[int, str]:
        if self.store.alias_target(self.alias) is None:
            return {}
        rows = self.store.query_ids(self.alias, ids, ["id", "content_hash", "removed"])
        return {int(r["id"]): r["content_hash"] for r in rows if not r["removed"]}

    def wait_visible(self, expected: dict[int, str], timeout: float, poll: float = 1.0) -> float:
        """Seconds until Milvus holds every expected hash. One read of all ids per ``poll`` seconds:
        reading 5,000 rows five times a second cost Milvus a tenth of a core beside the sink."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            seen = self.visible_hashes(list(expected))
            if all(seen.get(i) == h for i, h in expected.items()):
                return time.monotonic() - started
            if self.process is not None and self.process.poll() is not None:
                raise SystemExit(f"the sink exited: see {self.log_path}")
            time.sleep(poll)
        raise SystemExit(f"not visible within {timeout:.0f}s (sink log {self.log_path})")

    def hashes(self, ids: list[int]) -> dict[int, str]:
        rows = self.conn.execute("SELECT id, content_hash FROM policies WHERE id = ANY(%s)", (ids,)).fetchall()
        return {r[0]: r[1].strip() for r in rows}

    def close(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(60)
        self.store.drop_namespace(self.alias)
        self.store.close()
        self.conn.execute("DELETE FROM policies WHERE source_system = %s", (f"bench-{self.ns}",))
        self.conn.close()


def latency(args) -> dict:
    from bench.sinks.sink_bench import percentile, run_probe

    pipeline = MilvusPipeline(working_set=max(int(args.rate * 10), 50))
    try:
        warm = pipeline.wait_visible(pipeline.hashes(pipeline.ids), timeout=600)
        print(f"working set of {len(pipeline.ids)} visible after {warm:.1f}s", file=sys.stderr, flush=True)
        pending: dict[int, tuple[str, float]] = {}
        samples: list[float] = []
        lock, stop = threading.Lock(), threading.Event()

        class Probe:  # run_probe reads bench.target.visible_hashes
            target = pipeline

        probe = threading.Thread(target=run_probe, args=(Probe, pending, lock, samples, stop), daemon=True)
        probe.start()
        rng = random.Random(3)
        started, n, superseded = time.monotonic(), 0, 0
        while time.monotonic() - started < args.seconds:
            policy_id = pipeline.ids[n % len(pipeline.ids)]
            digest = secrets.token_hex(32)
            # a real content change: new text (so it is embedded) and a new hash
            pipeline.conn.execute("UPDATE policies SET content = content || %s, content_hash = %s, updated_at = now() "
                                  "WHERE id = %s", (f" 변경 {rng.randint(1, 10**6)}", digest, policy_id))
            with lock:
                superseded += policy_id in pending
                pending[policy_id] = (digest, time.monotonic())
            n += 1
            delay = started + n / args.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        achieved = n / (time.monotonic() - started)
        stop.deadline = time.monotonic() + 30  # type: ignore[attr-defined]
        stop.set()
        probe.join(40)
    finally:
        pipeline.close()
    return {"target_rate": args.rate, "achieved_rate": round(achieved, 1), "changes": n, "samples": len(samples),
            "unresolved": len(pending), "superseded_unmeasured": superseded,
            "p50_ms": round(percentile(samples, 0.50) * 1000), "p95_ms": round(percentile(samples, 0.95) * 1000),
            "p99_ms": round(percentile(samples, 0.99) * 1000), "max_ms": round(max(samples) * 1000)}


def catchup(args) -> dict:
    pipeline = MilvusPipeline(working_set=0)
    try:
        time.sleep(2)
        documents = sample_documents(args.policies, seed=13)
        started = time.monotonic()
        ids = pipeline.insert(documents)
        committed = time.monotonic() - started
        expected = pipeline.hashes(ids)
        seconds = pipeline.wait_visible(expected, timeout=3600) + committed
    finally:
        pipeline.close()
    return {"policies": args.policies, "commit_seconds": round(committed, 1), "catch_up_seconds": round(seconds, 1),
            "policies_per_s": round(args.policies / seconds, 1)}


def burst(args) -> dict:
    """A burst while the sink is away: N policies created and each changed (new text, new hash) until
    there are ``--changes`` changes in all; then the sink starts and catches up. With the look-ahead
    (SINKS_LOOKAHEAD_MIN_LAG) it embeds each policy's newest text once, not every version."""
    pipeline = MilvusPipeline(working_set=0, start=False)
    try:
        documents = sample_documents(args.policies, seed=17)
        started = time.monotonic()
        ids = pipeline.insert(documents)
        rounds = max(0, args.changes // args.policies - 1)
        for n in range(rounds):  # one transaction per round: every policy gets a new text and hash
            pipeline.conn.execute(
                "UPDATE policies SET content = content || %s, updated_at = now(), "
                "content_hash = md5(random()::text) || md5(random()::text) WHERE id = ANY(%s)", (f" 변경 {n}", ids))
        committed = time.monotonic() - started
        expected = pipeline.hashes(ids)
        changes = args.policies * (rounds + 1)
        print(f"{changes:,} changes over {args.policies:,} policies committed in {committed:.1f} s; starting the sink",
              file=sys.stderr, flush=True)
        topic_end = _wait_streamed(pipeline, changes)
        pipeline.start()
        seconds = pipeline.wait_visible(expected, timeout=7200)
    finally:
        pipeline.close()
    log = pipeline.log_path.read_text(errors="replace")
    applied = sum(int(m) for m in re.findall(r'"upserted": (\d+)', log))
    superseded = sum(int(m) for m in re.findall(r'"superseded": (\d+)', log))
    return {"policies": args.policies, "changes": changes, "commit_seconds": round(committed, 1),
            "streamed_seconds": round(topic_end, 1),
            "catch_up_seconds": round(seconds, 1),  # from the sink's start until Milvus holds every newest text
            "written": applied, "superseded": superseded,
            "backend": os.environ.get("EMBEDDING_BACKEND", "torch")}


def _wait_streamed(pipeline: MilvusPipeline, changes: int, timeout: float = 1800) -> float:
    """Seconds until the change topic holds the burst (Debezium streamed it), counted from now."""
    from aegis.changestream.groups import group_lag

    started = time.monotonic()
    group = f"{pipeline.env['SINKS_GROUP_ID_PREFIX']}milvus"
    topic = pipeline.settings.sinks.topic(pipeline.settings.kafka)
    while time.monotonic() - started < timeout:
        if sum(lag.behind for lag in group_lag(pipeline.settings.kafka, group, topic)) >= changes:
            return time.monotonic() - started
        time.sleep(1)
    raise SystemExit(f"the change topic did not get {changes} changes within {timeout:.0f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    e = sub.add_parser("embed", help="sink vs bare encode throughput; backends and their cosine to fp32")
    e.add_argument("--texts", type=int, default=300)
    e.add_argument("--rounds", type=int, default=3)
    same = sub.add_parser("same-vectors", help="do two backends give the same vectors? (max |difference|, "
                                               "min cosine, same nearest neighbours)")
    same.add_argument("--texts", type=int, default=2000)
    same.add_argument("--reference", default="torch")
    same.add_argument("--candidate", default="onnx")
    same.add_argument("--neighbours", type=int, default=10)
    lat = sub.add_parser("latency", help="commit → searchable p50/p99 at a fixed rate of content changes")
    lat.add_argument("--rate", type=float, default=10)
    lat.add_argument("--seconds", type=float, default=60)
    c = sub.add_parser("catchup", help="time to embed and store N new policies")
    c.add_argument("--policies", type=int, default=5000)
    b = sub.add_parser("burst", help="catch-up after N changes over M policies made while the sink was away")
    b.add_argument("--policies", type=int, default=5000)
    b.add_argument("--changes", type=int, default=100_000)
    args = parser.parse_args()
    load = os.getloadavg()
    result = {"embed": embed, "same-vectors": same_vectors, "latency": latency, "catchup": catchup, "burst": burst}[args.command](args)
    result["loadavg_at_start"] = [round(x, 1) for x in load]
    result["loadavg_at_end"] = [round(x, 1) for x in os.getloadavg()]
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
