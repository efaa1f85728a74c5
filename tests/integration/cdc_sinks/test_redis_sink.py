"""The Redis cache sink against the real server: JSON documents with a TTL, the CAS guard, markers."""

from __future__ import annotations

import json
import secrets
import time

import pytest

from aegis.settings import Settings
from cdc_sinks.base import FINAL_LSN, Removal
from cdc_sinks.batching import plan_batch
from cdc_sinks.redis.sink import WRITES_PER_CALL, RedisSink, redis_client
from testkit.checksums import checksums_of
from testkit.envelopes import message
from testkit.native import NativeRedis

pytestmark = pytest.mark.integration


def _message(policy_id, lsn, **kwargs):
    return message(policy_id, lsn, **kwargs)


@pytest.fixture
def cache(stack: Settings):
    sink = RedisSink(redis_client(stack), key_prefix=f"it-{secrets.token_hex(4)}:policy:", ttl_seconds=600)
    sink.ensure_ready()
    yield sink
    keys = list(sink.client.scan_iter(match=f"{sink.prefix}*"))
    if keys:
        sink.client.delete(*keys)
    sink.close()


@pytest.fixture
def cached(cache: RedisSink, stack: Settings):
    """redis-py on its own connection, reading the sink's keys as a cache reader does."""
    native = NativeRedis(stack.model_copy(update={"sinks": stack.sinks.model_copy(
        update={"redis_key_prefix": cache.prefix})}))
    yield native
    native.client.close()


def _upsert(sink, *messages):
    sink.upsert_batch([c.action for c in plan_batch(list(messages)).upserts])


def test_active_policy_is_cached_as_masked_json_with_a_ttl(cache, cached):
    _upsert(cache, _message(1, 10, title="청년 월세 지원"))
    doc = json.loads(cached.document(1))
    assert doc["title"] == "청년 월세 지원" and doc["status"] == "active" and "*" in doc["contact_email"]
    assert 590 <= cache.client.ttl(cache.doc_key(1)) <= 600
    assert cache.client.ttl(cache.version_key(1)) == -1  # the guard outlives the cached document


def test_lsns_compare_exactly_beyond_double_precision(cache, cached):
    big = 2**60
    _upsert(cache, _message(2, big + 1, title="newer"))
    _upsert(cache, _message(2, big, title="older"))  # equal as a Lua double, smaller as an integer
    assert json.loads(cached.document(2))["title"] == "newer"


def test_removals_leave_markers_and_older_events_lose(cache, cached):
    _upsert(cache, _message(3, 10), _message(4, 10))
    cache.remove_batch([Removal(3, FINAL_LSN), Removal(4, 12)])
    _upsert(cache, _message(3, 11), _message(4, 11))
    assert cached.document(3) is None and cached.document(4) is None
    _upsert(cache, _message(4, 13))
    assert [(v.policy_id, v.lsn) for v in cache.read_back(0, 10)] == [(4, 13)] and cache.count() == 1


def test_a_batch_over_several_script_calls_keeps_its_order_and_guards(cache, cached):
    """More records than one script call takes: each call is guarded on its own, in the batch's order."""
    records = [c.action for c in plan_batch([_message(i, 100 + i) for i in range(1, WRITES_PER_CALL * 2 + 51)]).upserts]
    newer = plan_batch([_message(1, 5_000, title="newer")]).upserts[0].action
    older = plan_batch([_message(1, 50, title="older")]).upserts[0].action
    cache.upsert_batch([records[0], newer, *records[1:], older])  # the older one lands in the last call
    assert json.loads(cached.document(1))["title"] == "newer"
    assert cache.count() == len(records)
    stored = {v.policy_id: v.lsn for v in cache.read_back(0, 10_000)}
    assert stored == {r.policy_id: (5_000 if r.policy_id == 1 else r.lsn) for r in records}
    cache.remove_batch([Removal(r.policy_id, r.lsn + 1) for r in records[1:]] + [Removal(1, 10)])
    assert cache.count() == 1 and cached.document(1) is not None  # the stale removal of policy 1 lost


def _expected_checksums(cache, range_size: int) -> dict:
    return checksums_of(((v.policy_id, v.content_hash) for v in cache.read_back(0, 1000)), range_size)


def test_range_checksums_follow_updates_removals_and_expiry(cache, cached):
    _upsert(cache, *(_message(i, 10) for i in range(1, 8)))
    _upsert(cache, _message(2, 20, title="changed"))
    cache.remove_batch([Removal(5, FINAL_LSN)])
    checksums = cache.range_checksums(3, 0, None)
    assert checksums == _expected_checksums(cache, 3) and sum(c.count for c in checksums.values()) == 6
    assert cache.client.zcard(cache.ids_key) == 6  # one member per cached id, the replaced one gone
    assert cache.range_checksums(3, 3, 6) == {1: checksums[1]}

    short = RedisSink(cache.client, key_prefix=cache.prefix, ttl_seconds=1)
    _upsert(short, _message(7, 30))
    time.sleep(2.2)
    assert cached.document(7) is None and 7 not in {v.policy_id for v in cache.read_back(0, 100)}
    assert cache.range_checksums(3, 0, None) == _expected_checksums(cache, 3)  # expired: counted by neither


def test_a_member_without_its_digest_makes_its_range_differ_until_rewritten(cache):
    _upsert(cache, _message(1, 10), _message(2, 10))
    legacy = cache.client.hget(cache.version_key(2), "member")
    cache.client.zrem(cache.ids_key, legacy)
    cache.client.zadd(cache.ids_key, {"2": 2})  # the layout before members carried the digest
    assert cache.range_checksums(10, 0, None) != _expected_checksums(cache, 10)  # counted with digest 0
    assert [v.policy_id for v in cache.read_back(0, 10)] == [1, 2]
    [defect] = cache.read_records([2])[2].defects
    assert defect.kind.value == "metadata" and "member" in defect.detail
    _upsert(cache, _message(2, 11, title="rewritten"))
    assert cache.client.zcard(cache.ids_key) == 2
    assert cache.range_checksums(10, 0, None) == _expected_checksums(cache, 10)


def test_a_deleted_document_no_longer_counts_in_the_cheap_checksums(cache):
    _upsert(cache, _message(1, 10), _message(2, 10))
    both = _expected_checksums(cache, 10)
    cache.client.delete(cache.doc_key(2))  # by hand, behind the sink
    assert cache.range_checksums(10, 0, None) != both
    assert cache.range_checksums(10, 0, None)[0].count == 1
    assert cache.read_records([2])[2].defects[0].detail == "version hash without its cached document"


def test_scripts_flushed_by_a_restart_are_loaded_again(cache, cached):
    _upsert(cache, _message(5, 10, title="before"))
    cache.client.script_flush()  # what a Redis restart does to the script cache
    _upsert(cache, _message(5, 11, title="after"), _message(6, 11))
    assert json.loads(cached.document(5))["title"] == "after" and cached.document(6) is not None
    cache.client.script_flush()
    cache.remove_batch([Removal(5, 12)])
    assert cached.document(5) is None
    assert [v.policy_id for v in cache.read_back(0, 10)] == [6]
