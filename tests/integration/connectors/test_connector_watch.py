"""`aegis connectors watch` (compose's connector-watchdog service) against the real Kafka Connect:
a task that fails is restarted with backoff, each restart is printed and counted on /metrics, and
the connector runs again once the cause is gone."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from aegis.db import connect
from aegis.db.migrate import ensure_replication_access
from connectors.manage import apply_connector, connector_status, delete_connector, restart_connector
from testkit.streams import isolated_env, isolated_settings, new_tag

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _metric(port: int, name: str) -> float | None:
    for line in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def _wait(what: str, check, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (found := check()):
            return found
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout}s: {what}")


def test_a_failed_task_is_restarted_and_counted_until_it_runs(stream_stack):
    settings = isolated_settings(stream_stack, new_tag())
    with connect(settings.postgres, role="owner", autocommit=True) as conn:
        ensure_replication_access(conn, settings.postgres)
    port = _free_port()
    lines: queue.Queue[str] = queue.Queue()
    watch = None
    try:
        apply_connector(settings)  # passes validation, then its task fails when the publication is gone
        with connect(settings.postgres, role="owner", autocommit=True) as conn:
            conn.execute(f'DROP PUBLICATION "{settings.postgres.publication}"')
        restart_connector(settings, only_failed=False)
        _wait("the task to fail", lambda: connector_status(settings, with_slot=False).failed_tasks, 60)

        watch = subprocess.Popen([sys.executable, "-m", "console.cli", "connectors", "watch", "--every", "1",
                                  "--metrics-port", str(port)], env={**os.environ, **isolated_env(settings)},
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        threading.Thread(target=lambda: [lines.put(line.rstrip()) for line in watch.stdout], daemon=True).start()
        seen: list[str] = []

        def line_matching(pattern: str):
            while not lines.empty():
                seen.append(lines.get())
            return next((line for line in seen if re.search(pattern, line)), None)

        first = _wait("a restart to be reported", lambda: line_matching(r"task\(s\) 0 FAILED .*restart #1"), 60)
        assert "publication" in first.lower() or "exception" in first.lower(), first
        assert _wait("the restart counted", lambda: (_metric(port, "connector_task_restarts_total") or 0) >= 1, 30)
        assert _metric(port, "connector_running") == 0

        with connect(settings.postgres, role="owner", autocommit=True) as conn:
            ensure_replication_access(conn, settings.postgres)  # the cause is gone: the next restart sticks
        _wait("the connector to run again", lambda: line_matching(r"running again after \d+ restart"), 90)
        assert _wait("the running gauge", lambda: _metric(port, "connector_running") == 1, 30)
        assert _metric(port, "connector_failed_tasks") == 0
    finally:
        if watch is not None and watch.poll() is None:
            os.killpg(watch.pid, signal.SIGTERM)
            watch.wait(timeout=30)
        delete_connector(settings, drop_replication=True)
    assert watch.returncode == 0
