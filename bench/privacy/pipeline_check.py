"""The PII corpus through the whole pipeline, then every store searched with its own client.

1. the corpus (bench/privacy/corpus.py) is written through the collector's write path
   (``collectors.store.store_page``, pages of 100) and the rows are promoted to ``active``;
2. Debezium streams them; the four sinks run as their own processes (``aegis sinks run NAME``,
   logs captured) until every target holds every corpus policy at PostgreSQL's content hash;
3. each store is dumped with its own client — OpenSearch over REST (httpx), Redis with redis-py
   (every key, every type), Neo4j with its driver (every node's and relationship's properties),
   Milvus with pymilvus (every scalar field of every live collection), every Kafka topic with a
   plain consumer (keys, values, headers, the dead-letter topic included) — as are the sinks' logs
   and the stack's server logs;
4. every planted personal item is searched in every dump: numbers by their digits however they
   are separated or embedded, e-mail addresses as written; every title look-alike must be intact
   in every target.

``run(settings, policies, log_dir)`` returns a ``PipelineReport``; the integration test asserts on
it and ``python -m bench.privacy.pipeline_check`` prints it (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from pydantic import BaseModel, Field

from aegis.settings import Settings, load_settings
from bench.privacy.corpus import Planted, generate, title_look_alikes

TARGETS = ("search", "redis", "neo4j", "milvus")
STACK = ["postgres", "redis", "kafka", "kafka-connect", "neo4j", "opensearch", "milvus"]


class PipelineReport(BaseModel):
    policies: int
    planted_personal: int
    look_alikes_checked: int
    seconds_to_converge: float
    stores_searched: dict[str, int] = Field(default_factory=dict)      # store -> bytes searched
    leaks: dict[str, list[str]] = Field(default_factory=dict)          # store -> planted texts found
    damaged_look_alikes: dict[str, list[str]] = Field(default_factory=dict)  # target -> source ids
    missing_in_target: dict[str, int] = Field(default_factory=dict)
    poison_dead_letters: int = 0  # dead letters of the undecodable messages carrying planted data

    @property
    def clean(self) -> bool:
        return not any(self.leaks.values()) and not any(self.damaged_look_alikes.values()) \
            and not any(self.missing_in_target.values())


# --- 1. write and promote -----------------------------------------------------------------------------

def load_corpus(settings: Settings, policies: int, seed: int) -> tuple[dict[str, int], list[Planted]]:
    from aegis.audit import set_change_context
    from aegis.db import connect
    from collectors.models import MappedPage
    from collectors.store import store_page

    records, planted = generate(policies, seed)
    run_id = f"pii-corpus-{uuid.uuid4().hex[:8]}"
    with connect(settings.postgres, autocommit=True) as conn:
        for page, start in enumerate(range(0, len(records), 100), 1):
            store_page(conn, records[0].source_system, MappedPage(number=page, records=records[start:start + 100],
                                                                  rejections=[]),
                       run_id=run_id, request_url="https://corpus.invalid/list?serviceKey=secret&page=%d" % page)
        ids = dict(conn.execute("SELECT source_id, id FROM policies WHERE source_system = %s AND source_id = ANY(%s)",
                                (records[0].source_system, [r.source_id for r in records])).fetchall())
        with conn.transaction():
            set_change_context(conn, actor="pii-corpus", reason="corpus promoted for the pipeline check")
            conn.execute("UPDATE policies SET status = 'active', quality_score = 0.9, updated_at = now() "
                         "WHERE id = ANY(%s)", (list(ids.values()),))
    return ids, planted


def produce_poison(settings: Settings, planted: list[Planted], count: int = 3) -> list[Planted]:
    """Messages no sink can decode, carrying planted personal data, on the change topic: every sink
    dead-letters them, so the dead-letter topic and `aegis dlq show` are searched too."""
    from confluent_kafka import Producer

    personal = [p for p in planted if p.personal and p.kind in ("mobile", "rrn", "email")][:count]
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers})
    topic = settings.sinks.topic(settings.kafka)
    for p in personal:
        producer.produce(topic, key=b'{"id": 0}', value=json.dumps({"broken": p.text, "op": "?"}, ensure_ascii=False).encode())
    producer.flush(30)
    return personal


def dlq_cli_output(settings: Settings, env_file: str | None) -> str:
    """What a person sees: `aegis dlq list --json` and `aegis dlq show` of every dead letter."""
    base = [sys.executable, "-m", "console.cli"] + (["--env-file", env_file] if env_file else []) + ["dlq"]
    listed = subprocess.run(base + ["list", "--json", "--limit", "1000"], capture_output=True, text=True, timeout=120)
    lines = [json.loads(line) for line in listed.stdout.splitlines() if line.startswith("{")]
    refs = [d["ref"] for d in lines if "ref" in d]  # the last line describes the page
    shown = subprocess.run(base + ["show", *refs], capture_output=True, text=True, timeout=120) if refs else None
    return listed.stdout + listed.stderr + (shown.stdout + shown.stderr if shown else "")


# --- 2. sinks -------------------------------------------------------------------------------------------

def start_sinks(settings: Settings, log_dir: Path, env_file: str | None) -> list[tuple[str, subprocess.Popen]]:
    log_dir.mkdir(parents=True, exist_ok=True)
    procs = []
    for offset, name in enumerate(TARGETS):
        log = open(log_dir / f"sink-{name}.log", "ab")
        args = [sys.executable, "-m", "console.cli"] + (["--env-file", env_file] if env_file else []) + \
               ["sinks", "run", name, "--metrics-port", str(settings.service.metrics_port + 10 + offset)]
        procs.append((name, subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)))
    return procs


def stop_sinks(procs: list[tuple[str, subprocess.Popen]]) -> None:
    for _, proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for _, proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def held_versions(settings: Settings, target: str, ids: list[int]) -> dict[int, str]:
    """id -> content hash the target holds, for ids in [min(ids), max(ids)], read through the sink."""
    from cdc_sinks.registry import build_sink

    sink = build_sink(target, settings)
    try:
        found: dict[int, str] = {}
        after, last = min(ids) - 1, max(ids)
        while after < last:
            page = sink.read_back(after, 1000)
            if not page:
                break
            for v in page:
                if v.policy_id <= last:
                    found[v.policy_id] = v.content_hash.strip()
            after = page[-1].policy_id
        return found
    finally:
        sink.close()


def wait_converged(settings: Settings, ids: dict[str, int], timeout: float,
                   procs: list[tuple[str, subprocess.Popen]]) -> dict[str, int]:
    from aegis.db import connect

    with connect(settings.postgres, autocommit=True) as conn:
        expected = dict(conn.execute("SELECT id, content_hash FROM policies WHERE id = ANY(%s)",
                                     (list(ids.values()),)).fetchall())
    expected = {k: v.strip() for k, v in expected.items()}
    deadline = time.monotonic() + timeout
    missing = dict.fromkeys(TARGETS, len(expected))
    while time.monotonic() < deadline:
        for target in TARGETS:
            if missing[target]:
                try:
                    held = held_versions(settings, target, list(expected))
                except Exception:  # noqa: BLE001 - a target still starting (index not created yet)
                    continue
                missing[target] = sum(1 for i, h in expected.items() if held.get(i) != h)
        dead = [name for name, proc in procs if proc.poll() is not None]
        if not any(missing.values()) or dead:
            break
        time.sleep(3)
    return missing


# --- 3. dumps, each with the store's own client ---------------------------------------------------------

def dump_search(settings: Settings) -> str:
    import httpx

    out = []
    with httpx.Client(base_url=settings.search.url, timeout=60) as http:
        indices = [i["index"] for i in http.get("/_cat/indices", params={"format": "json"}).json()
                   if not i["index"].startswith(".")]
        for index in indices:
            body = {"size": 1000, "query": {"match_all": {}}, "sort": ["_doc"]}
            page = http.post(f"/{index}/_search", params={"scroll": "1m"}, json=body).json()
            while page.get("hits", {}).get("hits"):
                out.extend(json.dumps(h["_source"], ensure_ascii=False) for h in page["hits"]["hits"])
                page = http.post("/_search/scroll", json={"scroll": "1m", "scroll_id": page["_scroll_id"]}).json()
    return "\n".join(out)


def dump_redis(settings: Settings) -> str:
    import redis

    r = settings.redis
    client = redis.Redis(host=r.host, port=r.port, db=r.db,
                         password=r.password.get_secret_value() if r.password else None)
    out = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        if kind == "string":
            value = client.get(key)
        elif kind == "hash":
            value = client.hgetall(key)
        elif kind == "zset":
            value = client.zrange(key, 0, -1, withscores=True)
        elif kind == "set":
            value = client.smembers(key)
        elif kind == "list":
            value = client.lrange(key, 0, -1)
        else:
            value = kind
        out.append(f"{key!r} {value!r}")
    client.close()
    return _decode_reprs("\n".join(out))


def _decode_reprs(text: str) -> str:
    """redis-py returns bytes: their reprs escape UTF-8 (b'\\xec\\x9e...'); decode them back."""
    def decode(match: re.Match[str]) -> str:
        try:
            return bytes(match[0][2:-1], "utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8", "replace")
        except (UnicodeDecodeError, UnicodeEncodeError):
            return match[0]
    return re.sub(r"b'(?:[^'\\]|\\.)*'", decode, text)


def dump_neo4j(settings: Settings) -> str:
    from neo4j import GraphDatabase

    n = settings.neo4j
    uri = n.uri or f"bolt://{n.host}:{n.port}"
    with GraphDatabase.driver(uri, auth=(n.user, n.password.get_secret_value())) as driver:
        with driver.session(database=n.database) as session:
            nodes = [json.dumps(r["p"], ensure_ascii=False, default=str)
                     for r in session.run("MATCH (x) RETURN labels(x) AS l, properties(x) AS p")]
            rels = [json.dumps(r["p"], ensure_ascii=False, default=str)
                    for r in session.run("MATCH ()-[x]->() RETURN properties(x) AS p")]
    return "\n".join(nodes + rels)


def dump_milvus(settings: Settings) -> str:
    from pymilvus import MilvusClient

    m = settings.milvus
    client = MilvusClient(uri=m.uri or f"http://{m.host}:{m.port}",
                          token=m.token.get_secret_value() if m.token else "", db_name=m.db_name)
    out = []
    try:
        for name in client.list_collections():
            fields = [f["name"] for f in client.describe_collection(name)["fields"] if f["name"] != "vector"]
            client.load_collection(name)
            iterator = client.query_iterator(name, batch_size=1000, filter="", output_fields=fields)
            while True:
                rows = iterator.next()
                if not rows:
                    iterator.close()
                    break
                out.extend(json.dumps(r, ensure_ascii=False, default=str) for r in rows)
    finally:
        client.close()
    return "\n".join(out)


def dump_kafka(settings: Settings) -> dict[str, str]:
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap_servers, "group.id": f"pii-check-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest", "enable.partition.eof": True})
    dumps: dict[str, str] = {}
    try:
        metadata = consumer.list_topics(timeout=20)
        for topic, meta in sorted(metadata.topics.items()):
            if topic.startswith("__"):
                continue
            ends, assignment = {}, []
            for p in meta.partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=20)
                if high > low:
                    ends[p] = high
                    assignment.append(TopicPartition(topic, p, low))
            if not assignment:
                continue
            consumer.assign(assignment)
            chunks: list[str] = []
            deadline = time.monotonic() + 120
            while ends and time.monotonic() < deadline:
                msg = consumer.poll(1.0)
                if msg is None:
                    continue
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        ends.pop(msg.partition(), None)
                    continue
                parts = [msg.key() or b"", msg.value() or b""] + [v or b"" for _, v in (msg.headers() or [])]
                chunks.append(" ".join(p.decode("utf-8", "replace") for p in parts))
                if msg.offset() + 1 >= ends.get(msg.partition(), 0):
                    ends.pop(msg.partition(), None)
            consumer.unassign()
            dumps[f"kafka:{topic}"] = "\n".join(chunks)
    finally:
        consumer.close()
    return dumps


def dump_logs(settings: Settings, log_dir: Path) -> dict[str, str]:
    dumps = {}
    for directory in (log_dir, settings.stack.state_path / "logs"):
        for path in sorted(Path(directory).rglob("*.log")):
            dumps[f"log:{path.name}"] = path.read_text("utf-8", "replace")
    return dumps


# --- 4. search -----------------------------------------------------------------------------------------

_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
# A run of digits with the separators numbers are written with (ASCII and full-width).
_NUMBER_RUN = re.compile(r"[0-9０-９+(][0-9０-９\-.\s()+－]{6,40}[0-9０-９]")
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text.translate(_DIGITS))


def needle_index(planted: list[Planted]) -> tuple[dict[str, str], dict[str, str]]:
    """Planted personal values by bare digits (numbers of 9+ digits) and by lower-cased address (e-mails)."""
    numbers, emails = {}, {}
    for p in planted:
        if not p.personal:
            continue
        if p.kind == "email":
            emails[p.text.lower()] = p.text
        else:
            value = re.sub(r"^[^\d+(０-９]*", "", p.text)  # without its label (자택 전화, 계좌번호:, 카드번호)
            numbers[_digits(value)] = p.text
    return numbers, emails


def search_dump(dump: str, numbers: dict[str, str], emails: dict[str, str]) -> set[str]:
    """Planted values present in ``dump``. A number is looked up by its digits over every span of
    whole digit groups of a run (``(02) 324-2728`` → 02, 324, 2728, 02324, …, 023242728), so it is
    found however it is separated or glued to text, but never inside a longer number (a timestamp);
    an e-mail address as written, also when glued to other text."""
    found: set[str] = set()
    for match in _NUMBER_RUN.finditer(dump):
        groups = [_digits(g) for g in re.findall(r"[0-9０-９]+", match[0])]
        for first in range(len(groups)):
            digits = ""
            for group in groups[first:]:
                digits += group
                if len(digits) > 19:
                    break
                hit = numbers.get(digits)
                if hit is not None:
                    found.add(hit)
    for match in _EMAIL.finditer(dump):
        local, _, domain = match[0].lower().rpartition("@")
        labels = domain.split(".")
        # an address glued to other text: "신청서_hong12@naver.com.hwp", "writer=hong12@naver.com"
        starts = [0] + [i for i in range(1, len(local)) if not local[i - 1].isascii() or not local[i - 1].isalnum()]
        for start in starts:
            for end in range(2, len(labels) + 1):
                hit = emails.get(f"{local[start:]}@{'.'.join(labels[:end])}")
                if hit is not None:
                    found.add(hit)
    return found


def search_dumps(dumps: dict[str, str], planted: list[Planted]) -> dict[str, list[str]]:
    numbers, emails = needle_index(planted)
    return {store: sorted(search_dump(dump, numbers, emails)) for store, dump in dumps.items()}


def check_look_alikes(settings: Settings, ids: dict[str, int], planted: list[Planted],
                      dumps: dict[str, str]) -> dict[str, list[str]]:
    """Every target must hold each policy's title look-alike as written (every target stores the title)."""
    alikes = title_look_alikes(planted)
    stores = {"search": dumps["search"], "redis": dumps["redis"], "neo4j": dumps["neo4j"], "milvus": dumps["milvus"]}
    return {target: sorted(sid for sid, text in alikes.items() if sid in ids and text not in dump)
            for target, dump in stores.items()}


def _dead_letters(settings: Settings, expected: int) -> int:
    from cdc_sinks.dlq import read_dead_letters

    return sum(1 for d in read_dead_letters(settings.kafka) if d.key == b'{"id": 0}')


def run(settings: Settings, policies: int = 600, *, log_dir: Path, env_file: str | None = ".env",
        seed: int | None = None, timeout: float = 600) -> PipelineReport:
    from connectors.manage import apply_connector, wait_until_running
    from devstack.manager import StackManager

    StackManager(settings).up(STACK)
    from aegis.db.migrate import migrate_database

    migrate_database(settings.postgres)
    apply_connector(settings)
    wait_until_running(settings, timeout=120)
    ids, planted = load_corpus(settings, policies, seed if seed is not None else int(time.time()))
    poisoned = produce_poison(settings, planted)
    started = time.monotonic()
    procs = start_sinks(settings, log_dir, env_file)
    try:
        missing = wait_converged(settings, ids, timeout, procs)
        converged = time.monotonic() - started
    finally:
        stop_sinks(procs)
    dumps = {"search": dump_search(settings), "redis": dump_redis(settings), "neo4j": dump_neo4j(settings),
             "milvus": dump_milvus(settings), **dump_kafka(settings), **dump_logs(settings, log_dir),
             "cli:aegis dlq list/show": dlq_cli_output(settings, env_file)}
    leaks = search_dumps(dumps, planted)
    # The undecodable messages were put on the change topic by this check itself, unmasked, to be
    # dead-lettered: there they are expected; everywhere else (dead letters, the CLI) they must not be.
    change_topic = f"kafka:{settings.sinks.topic(settings.kafka)}"
    leaks[change_topic] = [t for t in leaks.get(change_topic, []) if t not in {p.text for p in poisoned}]
    damaged = check_look_alikes(settings, ids, planted, dumps)
    return PipelineReport(policies=len(ids), planted_personal=sum(p.personal for p in planted),
                          look_alikes_checked=len(title_look_alikes(planted)) * len(TARGETS),
                          seconds_to_converge=round(converged, 1),
                          stores_searched={k: len(v.encode()) for k, v in dumps.items()},
                          leaks={k: v for k, v in leaks.items() if v}, damaged_look_alikes=damaged,
                          missing_in_target=missing,
                          poison_dead_letters=_dead_letters(settings, len(poisoned)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--policies", type=int, default=600)
    parser.add_argument("--env-file", default=".env")
    parser.add_argument("--log-dir", default=None)
    args = parser.parse_args()
    settings = load_settings(args.env_file if os.path.exists(args.env_file) else None)
    log_dir = Path(args.log_dir or settings.stack.state_path / "logs" / f"pii-check-{int(time.time())}")
    report = run(settings, args.policies, log_dir=log_dir, env_file=args.env_file)
    print(report.model_dump_json(indent=2))
    print("CLEAN" if report.clean else "NOT CLEAN")


if __name__ == "__main__":
    main()
