"""Direct readers of each target and sink processes (benchmarks, fault suite).

A reader answers, for a set of policy ids, the ``Version`` each target holds — the LSN and content
hash of a visible policy, or the LSN of its removal marker — read the way a user of that store
would see it:

* search: a query through the read alias (visible after refresh); markers through the write alias;
* redis: the version hash ``<prefix><id>:v`` (written atomically with the cached document);
* neo4j: the ``:Policy`` node, or the ``:RemovedPolicy`` marker;
* milvus: the entity through the alias, with Strong consistency.

Every run gets its own namespace (``testkit.namespaces.run_env``: consumer groups, index alias,
key prefix, graph labels, collection alias), so it never touches another run's or the pipeline's
data; a reader's ``cleanup`` drops it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from aegis.settings import Settings
from cdc_sinks.registry import sink_names

ROOT = Path(__file__).resolve().parents[1]
TARGETS = tuple(sink_names())


@dataclass(frozen=True)
class Version:
    """What a target holds for one policy: a visible version or a removal marker."""

    lsn: int
    content_hash: str
    removed: bool


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile, ``q`` in [0, 1]; ``inf`` entries count (as never visible)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# ------------------------------------------------------------------------------ readers
class SearchReader:
    name = "search"

    def __init__(self, settings: Settings):
        from cdc_sinks.search.sink import build_search_sink

        self.sink = build_search_sink(settings)

    def _query(self, index: str, ids: list[int], removed: bool) -> list[dict]:
        body = {"size": len(ids), "_source": ["lsn", "content_hash"],
                "query": {"bool": {"filter": [{"ids": {"values": [str(i) for i in ids]}}]}}}
        if removed:
            body["query"]["bool"]["filter"].append({"term": {"removed": True}})
        return self.sink.engine.search(index, body)["hits"]["hits"]

    def versions(self, ids: list[int], *, markers: bool = True) -> dict[int, Version]:
        if not ids or not self.sink.engine.alias_targets(self.sink.alias):
            return {}
        found = {int(h["_id"]): Version(int(h["_source"]["lsn"]), h["_source"]["content_hash"], False)
                 for h in self._query(self.sink.alias, ids, removed=False)}
        absent = [i for i in ids if i not in found]
        if markers and absent:
            found.update({int(h["_id"]): Version(int(h["_source"]["lsn"]), "", True)
                          for h in self._query(self.sink.write_alias, absent, removed=True)})
        return found

    def cleanup(self) -> None:
        self.sink.drop_namespace()
        self.sink.close()


class RedisReader:
    name = "redis"

    def __init__(self, settings: Settings):
        from cdc_sinks.redis.sink import build_redis_sink

        self.sink = build_redis_sink(settings)

    def versions(self, ids: list[int], *, markers: bool = True) -> dict[int, Version]:
        pipe = self.sink.client.pipeline(transaction=False)
        for i in ids:
            pipe.hmget(self.sink.version_key(i), "lsn", "hash", "removed")
        found = {}
        for i, (lsn, digest, removed) in zip(ids, pipe.execute(), strict=True):
            if lsn is not None and (markers or removed != b"1"):
                found[i] = Version(int(lsn), (digest or b"").decode(), removed == b"1")
        return found

    def cleanup(self) -> None:
        self.sink.drop_namespace()
        self.sink.close()


class Neo4jReader:
    name = "neo4j"

    def __init__(self, settings: Settings):
        import neo4j

        from cdc_sinks.neo4j.model import POLICY, REMOVED_POLICY
        from cdc_sinks.neo4j.sink import Neo4jSink

        self.sink = Neo4jSink(settings.neo4j)
        self.database, self.read_mode = settings.neo4j.database, neo4j.READ_ACCESS
        label = self.sink.statements.label
        # ids inside a map, as the sink sends its rows: a list parameter is planned again for every
        # size class of the list (0.4 s or more each on a cold server), which the pollers' latency would show
        self.policies = (f"UNWIND $ids.items AS id MATCH (p:{label(POLICY)} {{id: id}}) "
                         "RETURN p.id AS id, p.lsn AS lsn, p.content_hash AS content_hash")
        self.markers = (f"UNWIND $ids.items AS id MATCH (m:{label(REMOVED_POLICY)} {{id: id}}) "
                        "RETURN m.id AS id, m.lsn AS lsn")

    def versions(self, ids: list[int], *, markers: bool = True) -> dict[int, Version]:
        driver = self.sink._driver
        with driver.session(database=self.database, default_access_mode=self.read_mode,
                            notifications_min_severity="OFF") as session:  # labels absent before the first write
            found = {r["id"]: Version(r["lsn"], r["content_hash"], False)
                     for r in session.run(self.policies, ids={"items": ids})}
            absent = [i for i in ids if i not in found]
            if markers and absent:
                removed = session.run(self.markers, ids={"items": absent})
                found.update({r["id"]: Version(r["lsn"], "", True) for r in removed})
        return found

    def cleanup(self) -> None:
        self.sink.drop_namespace()
        self.sink.close()


class MilvusReader:
    name = "milvus"

    def __init__(self, settings: Settings):
        from cdc_sinks.milvus.store import MilvusStore

        self.store = MilvusStore(settings.milvus.model_copy(update={"consistency_level": "Strong"}))
        self.alias = settings.milvus.collection_alias

    def versions(self, ids: list[int], *, markers: bool = True) -> dict[int, Version]:
        if not ids or self.store.alias_target(self.alias) is None:
            return {}
        rows = self.store.query_ids(self.alias, ids, ["id", "lsn", "content_hash", "removed"])
        return {int(r["id"]): Version(int(r["lsn"]), r["content_hash"], bool(r["removed"]))
                for r in rows if markers or not r["removed"]}

    def cleanup(self) -> None:
        self.store.drop_namespace(self.alias)
        self.store.close()


READERS = {"search": SearchReader, "redis": RedisReader, "neo4j": Neo4jReader, "milvus": MilvusReader}
SERVER_OF = {"search": "opensearch", "redis": "redis", "neo4j": "neo4j", "milvus": "milvus"}
"""The stack server (its pid file's name) each target's reader and sink talk to."""


def build_reader(name: str, settings: Settings):
    return READERS[name](settings)


# ----------------------------------------------------------------------------- processes
def start_group_at_end(settings: Settings, group: str) -> None:
    """Commit ``group``'s offsets at the change topic's end: its sink skips everything before now."""
    topic = settings.sinks.topic(settings.kafka)
    consumer = Consumer({**settings.kafka.client_config(), "group.id": group,
                         "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        if not partitions:
            return  # no change yet: the topic does not exist, and the sink starts at its (empty) beginning
        ends = [TopicPartition(topic, p, consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1])
                for p in partitions]
        consumer.commit(offsets=ends, asynchronous=False)
    finally:
        consumer.close()


class SinkProcess:
    """``aegis sinks run NAME`` as a child process with ``env``, its output in a log file.

    ``own_session``: start it in a session of its own, as the main job does (console/supervisor.py),
    which with Linux's autogroup scheduling is also a CPU share of its own (benchmarks use it).
    """

    def __init__(self, name: str, env: dict[str, str], log: Path, *, metrics_port: int | None = None,
                 own_session: bool = False):
        self.name, self.log = name, log
        log.parent.mkdir(parents=True, exist_ok=True)
        port = [] if metrics_port is None else ["--metrics-port", str(metrics_port)]  # 0: any free port
        self.process = subprocess.Popen([str(Path(sys.executable).parent / "aegis"), "sinks", "run", name, *port],
                                        env={**os.environ, **env}, stdout=log.open("ab"),
                                        stderr=subprocess.STDOUT, cwd=str(ROOT), start_new_session=own_session)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 120) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            print(f"sink {self.name} did not stop within {timeout:.0f} s of SIGTERM: killed (log {self.log})",
                  file=sys.stderr)
            self.process.kill()
            self.process.wait(30)


# ----------------------------------------------------------------------------- the truth
def newest_events(settings: Settings) -> dict[int, tuple[int, bool]]:
    """Per policy id on the change topic (every partition): (LSN of its newest change, whether that
    change took it out of the active view)."""
    from aegis.changestream.decoding import build_decoder
    from aegis.changestream.groups import watermarks
    from cdc_sinks.topic_reader import Stretch

    topic = settings.sinks.topic(settings.kafka)
    marks = watermarks(settings.kafka, topic)
    stretch = Stretch(settings.kafka, topic, {p: low for p, (low, _) in marks.items()},
                      {p: high for p, (_, high) in marks.items()})
    decode = build_decoder(settings)
    newest: dict[int, tuple[int, bool]] = {}
    for message in stretch:
        if message.value() is None:
            continue  # the tombstone after a delete: its delete event carries the LSN
        event = decode(message.key(), message.value())
        if event.lsn is not None and event.lsn >= newest.get(event.policy_id, (-1, False))[0]:
            newest[event.policy_id] = (event.lsn, event.is_removal)
    assert stretch.complete, f"{topic} could not be read to its end"
    return newest


def drift(settings: Settings, reader, source: str) -> tuple[dict[str, list[int]], int]:
    """What ``reader``'s target holds for the policies of ``source`` against PostgreSQL's active view
    and the change topic: ({lost, extra, stale, lsn_mismatch: ids}, records held)."""
    from aegis.db import connect

    with connect(settings.postgres, role="reader", autocommit=True) as conn:
        active = dict(conn.execute("SELECT id, content_hash FROM policies WHERE source_system = %s "
                                   "AND status = 'active'", (source,)).fetchall())
        touched = [r[0] for r in conn.execute("SELECT id FROM policies WHERE source_system = %s", (source,))]
    newest = newest_events(settings)
    held = reader.versions(sorted(set(touched) | set(newest)), markers=False)
    found = {"lost": sorted(set(active) - set(held)), "extra": sorted(set(held) - set(active)),
             "stale": sorted(i for i in active if i in held and held[i].content_hash != active[i]),
             "lsn_mismatch": sorted(i for i in held if i in newest and held[i].lsn != newest[i][0])}
    return found, len(held)


def wait_until(condition, timeout: float, what: str, every: float = 0.5):
    """Call ``condition`` until it returns something truthy (returned); ``AssertionError`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(every)


def wait_equal_to_postgres(settings: Settings, reader, source: str, timeout: float = 120.0,
                           context=lambda: "") -> int:
    """Until ``reader``'s target holds exactly PostgreSQL's active policies of ``source`` at their newest
    LSNs (``drift``); the number of them. The failure names the last drift and ``context()``."""
    from aegis.db import connect

    with connect(settings.postgres, role="reader", autocommit=True) as conn:
        active = conn.execute("SELECT count(*) FROM policies WHERE source_system = %s AND status = 'active'",
                              (source,)).fetchone()[0]
    last: list = []

    def converged() -> bool:
        found, held = drift(settings, reader, source)
        last[:] = [found, held]
        return not any(found.values()) and held == active

    try:
        wait_until(converged, timeout, f"{reader.name} to equal PostgreSQL")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: last drift {last} ({active} active)\n{context()}") from None
    return active
