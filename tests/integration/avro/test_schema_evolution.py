"""Schema evolution under the Avro profile: migration 0003 adds a nullable column to ``policies``
while the connector and a sink run. The Avro converter registers a new schema version; the sink,
never restarted, decodes messages of both versions and loses nothing.

A scratch database (migrations before 0003 only) is streamed by an isolated Avro connector, so the
migration really is applied live, exactly as `aegis db migrate` applies it.
"""

from __future__ import annotations

import hashlib
import secrets
import threading

import httpx
import pytest
from avro_helpers import scratch_database, wait_mirrored

from aegis.changestream.decoding import AvroChangeDecoder, build_decoder
from aegis.changestream.groups import watermarks
from aegis.db import connect
from aegis.db.migrate import applied_versions, migrate
from cdc_sinks.redis.sink import build_redis_sink
from cdc_sinks.runtime import SinkRuntime
from cdc_sinks.topic_reader import Stretch
from testkit.streams import change_topic, isolated_settings, isolated_stream

pytestmark = pytest.mark.integration

NEW_COLUMN_VERSION = 3  # aegis/db/migrations/0003_policy_support_amount.sql


def _insert(conn, tag: str, n: int, *, amount: int | None = None, with_column: bool = False) -> int:
    title = f"지역 일자리 지원 {tag}-{n}"
    columns = "source_system, source_id, title, content, issuing_organization, content_hash, status"
    values = "'evolution', %s, %s, '내용', '고용노동부', %s, 'active'"
    params: list = [f"{tag}-{n}", title, hashlib.sha256(title.encode()).hexdigest()]
    if with_column:
        columns, values = columns + ", support_amount_krw", values + ", %s"
        params.append(amount)
    return conn.execute(f"INSERT INTO policies ({columns}) VALUES ({values}) RETURNING id", params).fetchone()[0]


def _read_topic(settings, topic: str) -> list:
    """Every message of ``topic``, all partitions (in no order across partitions)."""
    marks = watermarks(settings.kafka, topic)
    stretch = Stretch(settings.kafka, topic, {p: low for p, (low, _) in marks.items()},
                      {p: high for p, (_, high) in marks.items()})
    messages = list(stretch)
    assert stretch.complete, f"read {len(messages)} messages, not all of {topic}"
    return messages


def test_a_new_nullable_column_flows_through_without_restarting_the_sink(schema_registry):
    tag = secrets.token_hex(3)
    with scratch_database(schema_registry, f"aegis_evolution_{tag}", up_to_version=NEW_COLUMN_VERSION) as scratch:
        settings = isolated_settings(scratch, f"evo{tag}", change_format="avro")
        settings = settings.model_copy(update={"sinks": settings.sinks.model_copy(update={
            "redis_key_prefix": f"evolution-{tag}:", "batch_wait_ms": 50})})
        sink = build_redis_sink(settings)
        runtime = SinkRuntime(sink, settings, group_id=f"evolution-{tag}")
        assert isinstance(runtime.decode, AvroChangeDecoder)
        errors: list[BaseException] = []
        thread = threading.Thread(target=lambda: _run(runtime, errors), daemon=True)
        with isolated_stream(settings):
            thread.start()
            try:
                with connect(settings.postgres, role="owner", autocommit=True) as conn:
                    before = [_insert(conn, tag, n) for n in range(5)]
                    conn.execute("UPDATE policies SET status = 'rejected' WHERE id = %s", (before[0],))
                wait_mirrored(settings, sink, before)

                with connect(settings.postgres, role="owner", autocommit=True) as conn:  # `aegis db migrate`, live
                    applied = [m.version for m in migrate(conn, settings.postgres)]
                    assert NEW_COLUMN_VERSION in applied and NEW_COLUMN_VERSION in applied_versions(conn)
                    after = [_insert(conn, tag, 10 + n, amount=1_000_000 * n, with_column=True) for n in range(5)]
                    conn.execute("UPDATE policies SET support_amount_krw = 5000000, title = title || ' (변경)',"
                                 " content_hash = md5(title) || md5(title) WHERE id = %s", (before[1],))
                    conn.execute("DELETE FROM policies WHERE id = %s", (before[2],))
                wait_mirrored(settings, sink, before + after)

                assert thread.is_alive() and not errors, errors  # the same runtime, never restarted
                assert runtime.stats.dead_lettered == 0
            finally:
                runtime.stop()
                thread.join(60)
                leftovers = sink.client.keys(f"evolution-{tag}:*")
                if leftovers:
                    sink.client.delete(*leftovers)
                sink.close()
            assert not errors, errors

            messages = _read_topic(settings, change_topic(settings))
            decoder = build_decoder(settings)
            decoded = sorted(((decoder(m.key(), m.value()), m) for m in messages if m.value()),
                             key=lambda pair: pair[0].lsn or 0)  # in commit order across partitions
            events = [event for event, _ in decoded]
            schema_ids = [int.from_bytes(m.value()[1:5], "big") for _, m in decoded]
            amounts = {e.policy_id: e.after.support_amount_krw for e in events if e.after is not None}
            assert len(set(schema_ids)) == 2, f"expected one writer schema before and one after: {schema_ids}"
            switch = schema_ids.index(schema_ids[-1])  # the old version up to the migration, the new one after
            assert set(schema_ids[:switch]) == {schema_ids[0]} and set(schema_ids[switch:]) == {schema_ids[-1]}
            assert all(amounts[i] is None for i in before[3:])
            assert [amounts[i] for i in after] == [0, 1_000_000, 2_000_000, 3_000_000, 4_000_000]
            assert amounts[before[1]] == 5_000_000

            subject = f"{change_topic(settings)}-value"
            versions = httpx.get(f"{settings.schema_registry.ccompat_url}/subjects/{subject}/versions", timeout=10)
            assert versions.status_code == 200 and len(versions.json()) == 2
            latest = httpx.get(f"{settings.schema_registry.ccompat_url}/subjects/{subject}/versions/latest",
                               timeout=10).json()["schema"]
            assert "support_amount_krw" in latest


def _run(runtime: SinkRuntime, errors: list[BaseException]) -> None:
    try:
        runtime.run()
    except BaseException as exc:  # surfaced by the test's asserts
        errors.append(exc)
