"""The main job's pieces that need no server: the process list, the ports check, the reconcile line."""

from __future__ import annotations

import socket
from datetime import datetime, timezone

import pytest

from aegis.errors import ConfigError
from console.ops.mainjob import check_ports_free, process_specs
from console.ops.status import ReconcileSummary
from aegis.settings import ServiceSettings, load_settings

SINKS = ["milvus", "neo4j", "redis", "search"]


def _settings(port: int):
    settings = load_settings(env_file=None)
    return settings.model_copy(update={"service": ServiceSettings(_env_file=None, metrics_port=port)})


def test_the_scheduler_does_not_collect_at_once_because_the_job_already_did():
    collector = process_specs(_settings(29180), SINKS)[0]
    assert collector.name == "collector" and "--no-run-now" in collector.argv


def test_a_busy_metrics_port_stops_the_job_before_it_starts_anything():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError, match=f"{port}.* in use") as error:
            check_ports_free(_settings(port - 2), SINKS)  # the redis sink's port
    assert "METRICS_PORT" in error.value.hint


def test_the_last_reconcile_in_one_line_says_what_was_verified():
    summary = {"targets": {"redis": {"status": "repaired", "repaired": 2, "target_count": 200, "deep_checked": 9},
                           "search": {"status": "lagging", "repaired": 1, "in_flight": 3},
                           "neo4j": {"status": "unreachable"}},
               "promoted": 200, "rejected": 24, "archived": 521, "duplicates": 0}
    report = ReconcileSummary(checked_at=datetime.now(timezone.utc), dry_run=False, is_consistent=True, summary=summary)
    assert report.brief() == ("consistent (promoted 200, rejected 24, archived 521, duplicates 0; repaired 3); "
                              "verified: neo4j unreachable (not verified); redis 200 by checksum, 9 field by field; "
                              "search lagging (3 in flight, not verified)")


@pytest.mark.parametrize(("health", "expected"), [
    ({"assigned_partitions": 1, "target_ok": True}, "running"),
    ({"assigned_partitions": 0, "target_ok": True}, "waiting: no partitions"),
    ({"assigned_partitions": 1, "target_ok": False}, "failing"),
])
def test_a_sink_without_partitions_is_waiting_not_failing(health, expected):
    """Before the first captured change the topic has no partitions: that is not a failure."""
    from console.ops.status import _process_state
    from cdc_sinks.observability import HealthState, ObservabilityServer, SinkMetrics

    state = HealthState(assigned_partitions=health["assigned_partitions"], target_ok=health["target_ok"])
    server = ObservabilityServer(SinkMetrics("redis"), state, "127.0.0.1", 0).start()
    try:
        assert _process_state(_settings(server.port), server.port)[0] == expected
    finally:
        server.stop()
