"""The main job's pieces that need no server: the process list, the ports check, the reconcile line."""

from __future__ import annotations

import socket
from datetime import datetime, timezone

import pytest

from aegis.errors import ConfigError
from console.ops.mainjob import check_ports_free, process_specs
from console.ops.ports import collector_metrics_port, exporter_metrics_port, sink_metrics_ports
from console.ops.status import ReconcileSummary, _sink_state
from aegis.settings import ServiceSettings, SinkSettings, load_settings

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


def test_each_member_of_a_sink_is_its_own_process_on_its_own_port():
    settings = _settings(29180)
    settings = settings.model_copy(update={"sinks": SinkSettings(_env_file=None, members=2)})
    specs = process_specs(settings, SINKS)
    sinks = [s for s in specs if s.name.startswith("sink-")]
    assert [s.name for s in sinks] == ["sink-milvus", "sink-milvus-2", "sink-neo4j", "sink-neo4j-2",
                                       "sink-redis", "sink-redis-2", "sink-search", "sink-search-2"]
    ports = [int(s.argv[s.argv.index("--metrics-port") + 1]) for s in sinks]
    assert ports == list(range(29180, 29188)) and sink_metrics_ports(settings, "neo4j", SINKS) == [29182, 29183]
    assert collector_metrics_port(settings, SINKS) == 29188 and exporter_metrics_port(settings, SINKS) == 29190


def test_one_member_keeps_the_ports_the_job_always_had():
    settings = _settings(29180)
    assert [sink_metrics_ports(settings, name, SINKS) for name in SINKS] == [[29180], [29181], [29182], [29183]]
    assert collector_metrics_port(settings, SINKS) == 29184


@pytest.mark.parametrize(("states", "expected"), [
    (["running", "stopped"], "running"),
    (["running", "paused: target down"], "paused: target down"),
    (["waiting: no partitions", "running"], "running"),
    (["waiting: no partitions", "stopped"], "waiting: no partitions"),
    (["stopped", "stopped"], "stopped"),
    (["failing", "running"], "failing"),
])
def test_a_sinks_state_is_the_one_of_its_members_that_needs_acting_on(states, expected):
    assert _sink_state(states) == expected


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
