"""Registry, dead-letter headers and the /health server (no Kafka needed)."""

import json
import urllib.error
import urllib.request

import pytest

from aegis.errors import ConfigError, DataError, ErrorCode
from aegis.settings import load_settings
from cdc_sinks.dlq import error_headers
from cdc_sinks.observability import HealthState, ObservabilityServer, SinkMetrics
from cdc_sinks.registry import build_sink, sink_names
from testkit.envelopes import message
from testkit.namespaces import spec_env


def test_registry_knows_search_and_redis_and_names_unknown_sinks():
    assert {"search", "redis"} <= set(sink_names())
    with pytest.raises(ConfigError) as info:
        build_sink("nope", load_settings(None))
    assert "known sinks" in str(info.value)


def test_dead_letter_headers_name_sink_error_and_origin():
    m = message(4, 10)
    headers = dict(error_headers("search", m, DataError("mapping refused", code=ErrorCode.ELASTICSEARCH_SYNC_FAILED)))
    assert headers["aegis.sink"] == b"search" and headers["aegis.error.code"] == b"DP_3003"
    assert headers["aegis.error.kind"] == b"DataError" and headers["aegis.error.message"] == b"mapping refused"
    assert (headers["aegis.original.topic"], headers["aegis.original.offset"]) == (b"aegis.public.policies",
                                                                                 str(m.offset).encode())


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_health_ready_only_while_consuming_and_target_answers():
    metrics, health = SinkMetrics("memory"), HealthState()
    server = ObservabilityServer(metrics, health, "127.0.0.1", 0).start()
    try:
        assert _get(server.port, "/health")[0] == 200
        assert _get(server.port, "/health/ready")[0] == 503
        health.assigned_partitions, health.target_ok = 1, True
        status, body = _get(server.port, "/health/ready")
        assert status == 200 and json.loads(body)["ready"] is True
        health.paused = True
        assert _get(server.port, "/health/ready")[0] == 503
        metrics.batch_written(upserted=3, removed=1, dead=1, superseded=0, seconds=0.01, commit_ages=[0.2], max_lsn=9)
        text = _get(server.port, "/metrics")[1].decode()
        assert 'db_sync_total{status="success",target_db="memory"} 4.0' in text
        assert 'db_sync_total{status="failed",target_db="memory"} 1.0' in text
        assert "pipeline_lag_seconds" in text and "db_sync_latency_seconds_bucket" in text
    finally:
        server.stop()


class _CountingConsumer:
    def __init__(self):
        self.asked: list[int] = []

    def consume(self, num_messages: int, timeout: float):
        self.asked.append(num_messages)
        return []


@pytest.mark.parametrize("name, expected", [("memory", 500), ("search", 500), ("milvus", 2000)])
def test_the_micro_batch_comes_from_the_sink_spec(name, expected):
    from cdc_sinks.runtime import SinkRuntime
    from testkit.doubles import MemorySink

    sink = MemorySink()
    sink.name = name  # the registry's spec decides; an unlisted sink gets SINKS_BATCH_SIZE
    runtime = SinkRuntime(sink, load_settings(None))
    consumer = _CountingConsumer()
    assert runtime._consume(consumer) == [] and consumer.asked == [expected]


def test_every_registered_sink_has_the_same_folder_shape():
    from pathlib import Path

    from cdc_sinks.registry import SPECS

    root = Path(__file__).resolve().parents[3] / "cdc_sinks"
    for name, spec in SPECS.items():
        folder = root / name
        assert {p.name for p in folder.glob("*.py")} >= {"__init__.py", "sink.py", "errors.py", "spec.py"}, name
        assert spec.builder.startswith(f"cdc_sinks.{name}.sink:"), spec.builder
        assert spec_env(spec, "t1") and list(spec_env(spec, "t1").values())[0].startswith("t1")


class _AssignmentConsumer:
    def __init__(self, partitions, member_id=None):
        self.partitions, self.member_id = partitions, member_id

    def assignment(self):
        return self.partitions

    def memberid(self):
        return self.member_id


def test_a_consumer_holding_no_partition_too_long_counts_as_stalled():
    import time

    from aegis.errors import ErrorCode
    from cdc_sinks.runtime import ConsumerStalled, SinkRuntime
    from testkit.doubles import MemorySink

    runtime = SinkRuntime(MemorySink(), load_settings(None))
    limit = runtime.settings.sinks.rejoin_timeout_seconds
    runtime._holding_since = time.monotonic() - limit + 5
    runtime._check_assignment(_AssignmentConsumer([]), every=0)  # not yet
    runtime._holding_since = time.monotonic() - limit - 1
    runtime._check_assignment(_AssignmentConsumer(["p0"]), every=0)  # holds one again: the clock restarts
    assert time.monotonic() - runtime._holding_since < 1
    runtime._holding_since = time.monotonic() - limit - 1
    runtime._check_assignment(_AssignmentConsumer([], "rdkafka-1"), every=0)  # a standby in the group: fine
    runtime._holding_since = time.monotonic() - limit - 1
    with pytest.raises(ConsumerStalled) as info:
        runtime._check_assignment(_AssignmentConsumer([]), every=0)
    assert info.value.code is ErrorCode.CONSUMER_STALLED and "not a member" in info.value.message
