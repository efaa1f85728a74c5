"""`aegis connectors` against the real Kafka Connect: validation, idempotent apply, status, lifecycle, delete."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from aegis.db import connect
from aegis.db.migrate import ensure_replication_access
from connectors.manage import apply_connector, connector_status, list_connectors, wait_until_running
from connectors.slot import publication_exists, slot_info
from console.cli import cli
from testkit.streams import isolated_env, isolated_settings, new_tag, running_connector

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def managed(stream_stack):
    with running_connector(isolated_settings(stream_stack, new_tag())) as running:
        yield running


def _aegis(settings, *args):
    return CliRunner().invoke(cli, ["connectors", *args], env=isolated_env(settings), catch_exceptions=False)


def test_apply_of_an_invalid_config_prints_each_field_and_exits_non_zero(managed):
    result = _aegis(managed, "apply", "--set", "plugin.name=bogus", "--set", "slot.name=Not A Slot")
    assert result.exit_code != 0
    assert "invalid plugin.name = 'bogus'" in result.output and "pgoutput" in result.output
    assert "invalid slot.name" in result.output and "DP_3007" in result.output
    assert connector_status(managed).running  # the running connector was not touched


def test_apply_twice_changes_the_connector_once(managed):
    first = _aegis(managed, "apply", "--set", "poll.interval.ms=7")
    assert first.exit_code == 0, first.output
    assert "updated (poll.interval.ms)" in first.output
    second = _aegis(managed, "apply", "--set", "poll.interval.ms=7")
    assert second.exit_code == 0 and "unchanged" in second.output
    back = _aegis(managed, "apply")
    assert back.exit_code == 0 and "updated (poll.interval.ms)" in back.output


def test_status_json_reports_states_and_slot_lag(managed):
    wait_until_running(managed)
    # the task may run a moment before it has (re)opened its replication connection (the test before
    # re-applied the config, which restarts it): the slot reads as active once it has
    deadline = time.monotonic() + 60
    while not ((slot := connector_status(managed).slot) is not None and slot.active):
        assert time.monotonic() < deadline, "the slot did not become active within 60 s"
        time.sleep(0.5)
    result = _aegis(managed, "status", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["state"] == "RUNNING" and [t["state"] for t in report["tasks"]] == ["RUNNING"]
    assert report["slot"]["slot_name"] == managed.postgres.slot_name and report["slot"]["active"] is True
    assert isinstance(report["slot"]["lag_bytes"], int) and report["slot"]["lag_bytes"] >= 0


def test_pause_resume_and_restart(managed):
    paused = _aegis(managed, "pause")
    assert paused.exit_code == 0 and "paused" in paused.output
    assert connector_status(managed, with_slot=False).state == "PAUSED"
    assert _aegis(managed, "status").exit_code == 1  # not running → non-zero
    assert _aegis(managed, "resume").exit_code == 0
    restarted = _aegis(managed, "restart")
    assert restarted.exit_code == 0 and "running" in restarted.output
    assert connector_status(managed).running


def test_failed_task_trace_is_shown_and_restart_recovers_it(stream_stack):
    settings = isolated_settings(stream_stack, new_tag())
    with connect(settings.postgres, role="owner", autocommit=True) as conn:
        ensure_replication_access(conn, settings.postgres)
    try:
        # passes validation (the publication exists), then the task fails when it finds it gone
        apply_connector(settings)
        with connect(settings.postgres, role="owner", autocommit=True) as conn:
            conn.execute(f'DROP PUBLICATION "{settings.postgres.publication}"')
        _aegis(settings, "restart", "--no-wait")
        report = None
        for _ in range(100):
            report = connector_status(settings, with_slot=False)
            if report.failed_tasks:
                break
            import time
            time.sleep(0.3)
        assert report.failed_tasks, report
        shown = _aegis(settings, "status")
        assert shown.exit_code == 1 and "FAILED" in shown.output and "Exception" in shown.output
        with connect(settings.postgres, role="owner", autocommit=True) as conn:
            ensure_replication_access(conn, settings.postgres)
        recovered = _aegis(settings, "restart", "--failed-only")
        assert recovered.exit_code == 0, recovered.output
        wait_until_running(settings)
    finally:
        dropped = _aegis(settings, "delete", "--drop-slot")
    assert dropped.exit_code == 0, dropped.output
    assert settings.connector.name not in list_connectors(settings)
    assert slot_info(settings.postgres) is None  # no slot left holding WAL
    assert not publication_exists(settings.postgres)


def test_delete_without_drop_slot_warns_that_the_slot_keeps_wal(stream_stack):
    settings = isolated_settings(stream_stack, new_tag())
    with running_connector(settings):
        result = _aegis(settings, "delete")
        assert result.exit_code == 0
        assert "still exists and keeps WAL" in result.output
        assert slot_info(settings.postgres) is not None
    assert slot_info(settings.postgres) is None  # running_connector's clean-up dropped it
