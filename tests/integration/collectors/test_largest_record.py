"""The largest record a collector can store reaches every target (docs/collectors.md, "Oversized
input"): PostgreSQL → Debezium → Kafka → search, Neo4j, Redis and Milvus sinks → each target.

The record is built by the collectors' own path (``build_record``: content, short fields and raw
payload cut to their limits, then as close to ``MAX_RECORD_BYTES`` as attachments can fill it),
stored by the write path (``store_page``) and promoted the way the reconciler does (a status
UPDATE), whose change event carries the whole row once (the connector drops the before image;
the raw payload stays in ``policy_sources``), the content untouched by the UPDATE included. Each
target is then read back with its own client and must hold it with PostgreSQL's content hash.

Needs the whole local stack (it is started for this module if it is not running).
"""

from __future__ import annotations

import json
import os
import secrets

import httpx
import pytest

from aegis.db import connect
from aegis.models.limits import (
    MAX_CONTENT_CHARS,
    MAX_FIELD_CHARS,
    MAX_RAW_DATA_BYTES,
    MAX_RECORD_BYTES,
    json_text_size,
    streamed_size,
)
from aegis.settings import load_settings
from cdc_sinks.registry import SPECS, build_sink
from collectors.models import MappedPage
from collectors.sources.base import build_record
from collectors.sources.limits import TRUNCATION_KEY
from collectors.store import store_page
from testkit.conformance import SinkUnderTest
from testkit.namespaces import namespace_env

pytestmark = pytest.mark.integration

SOURCE = "limits-test"
SERVICES = ["postgres", "kafka", "kafka-connect", "redis", "neo4j", "opensearch", "milvus"]


@pytest.fixture(scope="module")
def full_stack(settings):
    """Every target and the change stream, with the connector applied (from this branch's template)."""
    from aegis.db.migrate import migrate_database
    from connectors.manage import apply_connector, wait_until_running
    from devstack.manager import StackManager

    manager = StackManager(settings)
    was_running = {s.name for s in manager.status(SERVICES) if s.healthy}
    manager.up(SERVICES, progress=lambda line: print(f"[stack] {line}"))
    migrate_database(settings.postgres)
    apply_connector(settings)
    wait_until_running(settings, timeout=120)
    yield settings
    started = [n for n in SERVICES if n not in was_running]
    if started and os.environ.get("AEGIS_TEST_KEEP_STACK") != "1":
        manager.down(started, progress=lambda line: print(f"[stack] {line}"))


def largest_record():
    """The biggest record ``build_record`` lets through: every limit reached, then filled to the brim."""
    quote_heavy = '"\\' * 150_000  # escapes count twice in the event: the limit is on streamed bytes
    fields = dict(
        title="가" * 500,
        content="대한민국정책안내" * (MAX_CONTENT_CHARS // 4),
        issuing_organization="중" * (MAX_FIELD_CHARS + 10), executing_organization="소" * (MAX_FIELD_CHARS + 10),
        target_group="청" * MAX_FIELD_CHARS, support_field="기" * MAX_FIELD_CHARS, funding_type="현" * MAX_FIELD_CHARS,
        application_period_text="상시 " * MAX_FIELD_CHARS, target_regions=["서울특별시", "부산광역시"],
        original_url="https://www.bizinfo.go.kr/" + "a" * 2000,
        raw_data={"bsnsSumryCn": "<p>" + "본문" * 300_000 + "</p>", "escaped": quote_heavy, "id": "largest"},
    )
    one = {"name": "첨부파일" * 40 + ".hwp", "url": "https://www.bizinfo.go.kr/cmm/fms/getImageFile.do?id=" + "9" * 200}

    def size_with(count: int) -> tuple[int, object]:
        built = build_record(SOURCE, "largest", **fields,
                             attachments=[dict(one, url=f"{one['url']}{i:06d}") for i in range(count)])
        return streamed_size(built.model_dump(mode="json")), built

    empty, _ = size_with(0)
    each = size_with(1)[0] - empty                  # attachments of equal size: a constant step
    count = (MAX_RECORD_BYTES - 64 - empty) // each
    size, record = size_with(count)
    while size > MAX_RECORD_BYTES - 64:              # never over: it must be stored
        count -= 1
        size, record = size_with(count)
    return record


class OneRow:
    """What the conformance harness checks against: PostgreSQL's active view of our one row."""

    def __init__(self, settings, policy_id: int):
        self.settings, self.ids = settings, [policy_id]

    def active_view(self) -> dict[int, str]:
        with connect(self.settings.postgres, autocommit=True) as conn:
            rows = conn.execute("SELECT id, content_hash FROM policies WHERE id = ANY(%s) AND status = 'active'",
                                (self.ids,)).fetchall()
        return {r[0]: r[1].strip() for r in rows}


def test_the_largest_record_a_collector_can_store_reaches_every_target(full_stack, monkeypatch):
    record = largest_record()
    size = streamed_size(record.model_dump(mode="json"))
    assert MAX_RECORD_BYTES - 20_000 < size <= MAX_RECORD_BYTES             # as large as a stored record gets
    assert len(record.content) == MAX_CONTENT_CHARS and len(record.issuing_organization) == MAX_FIELD_CHARS
    assert json_text_size({k: v for k, v in record.raw_data.items() if k != TRUNCATION_KEY}) <= MAX_RAW_DATA_BYTES
    assert {"content", "issuing_organization", "raw_data"} <= set(record.raw_data[TRUNCATION_KEY])

    namespace = f"largest_{secrets.token_hex(4)}"
    env = {**namespace_env(namespace), "SINKS_GROUP_ID_PREFIX": f"{namespace}-", "SINKS_PROBE_INTERVAL_SECONDS": "1",
           "SINKS_BATCH_WAIT_MS": "50", "SEARCH_REFRESH_INTERVAL": "100ms"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings(env_file=os.environ.get("AEGIS_TEST_ENV_FILE"))
    suts = {name: SinkUnderTest(name, settings, env, lambda n=name: build_sink(n, settings)) for name in SPECS}
    policy_id = None
    try:
        with connect(settings.postgres, role="owner", autocommit=True) as conn:  # the app role never deletes policies
            conn.execute("DELETE FROM policies WHERE source_system = %s", (SOURCE,))
            outcome = store_page(conn, SOURCE, MappedPage(number=1, records=[record], rejections=[]),
                                 run_id=f"largest-{namespace}")
            assert outcome.new == 1
            (policy_id,) = outcome.changed_ids
            conn.execute("UPDATE policies SET status = 'active', updated_at = now() WHERE id = %s", (policy_id,))
            stored = conn.execute("SELECT content, content_hash FROM policies WHERE id = %s", (policy_id,)).fetchone()
        assert stored[0] == record.content

        for sut in suts.values():
            sut.start()
        row = OneRow(settings, policy_id)
        for name, sut in suts.items():
            verdict = sut.wait_converged(row, timeout=240)
            assert verdict.converged, f"{name}: {verdict.diff()}"
            assert verdict.stored[policy_id][1] == stored[1].strip()

        # The promotion's change event carried the whole row, the 100,000-character content among it,
        # and no before image.
        any_sut = next(iter(suts.values()))
        values = [m.value() for m in any_sut.topic.read(any_sut.start_offsets)
                  if m.key() and json.loads(m.key()).get("id") == policy_id and m.value()]
        promotion = [event for event in map(json.loads, values) if event["op"] == "u"]
        assert promotion and all("before" not in event for event in promotion), [len(v) for v in values]
        assert promotion[-1]["after"]["content"] == record.content

        # Fresh reads with each target's own client: the whole text where the target keeps it.
        search = suts["search"].sink
        document = httpx.get(f"{settings.search.url}/{search.write_alias}/_doc/{policy_id}", timeout=30).json()
        assert document["_source"]["content"] == record.content
        import redis

        client = redis.Redis(host=settings.redis.host, port=settings.redis.port, db=settings.redis.db,
                             password=settings.redis.password.get_secret_value() if settings.redis.password else None)
        try:
            cached = json.loads(client.get(f"{settings.sinks.redis_key_prefix}{policy_id}"))
        finally:
            client.close()
        assert cached["content"] == record.content and cached["title"] == record.title
        import neo4j

        with neo4j.GraphDatabase.driver(settings.neo4j.bolt_uri, auth=(
                settings.neo4j.user, settings.neo4j.password.get_secret_value())) as driver:
            label = f"{settings.neo4j.namespace}Policy"  # the sink's namespaced label (cdc_sinks/neo4j/cypher.py)
            nodes = driver.execute_query(f"MATCH (p:`{label}` {{id: $id}}) RETURN p.title AS title, "
                                         "p.content_hash AS hash", id=policy_id).records
        assert [(n["title"], n["hash"]) for n in nodes] == [(record.title, stored[1].strip())]
        from pymilvus import MilvusClient

        milvus = MilvusClient(uri=settings.milvus.address)
        try:
            rows = milvus.query(settings.milvus.collection_alias, filter=f"id == {policy_id}",
                                output_fields=["title", "content_hash"], consistency_level="Strong")
        finally:
            milvus.close()
        assert [(r["title"], r["content_hash"]) for r in rows] == [(record.title, stored[1].strip())]
    finally:
        for sut in suts.values():
            try:
                sut.stop()
            finally:
                sut.sink.drop_namespace()
                sut.close()
        if policy_id is not None:
            with connect(settings.postgres, role="owner", autocommit=True) as conn:
                conn.execute("DELETE FROM processing_history WHERE policy_id = %s", (str(policy_id),))
                conn.execute("DELETE FROM policies WHERE id = %s", (policy_id,))
