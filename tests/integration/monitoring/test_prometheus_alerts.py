"""The alert rules on a real Prometheus (Debian's, started by the test stack as `aegis stack up
prometheus` starts it): a target is stopped for real, and Prometheus' own HTTP API shows its
TargetUnreachable alert go pending, then firing, then away once the target is back.

The test stack's Prometheus caps every alert's ``for`` (AEGIS_STACK_PROMETHEUS_ALERT_FOR_MAX_SECONDS, 10 s in
tests/stack-test.env) and evaluates every 5 s: the expression, the labels and the path from the
exporter through Prometheus are the production ones; the waiting times are the rules' own in
alerts.test.yml (promtool)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from aegis.settings import Settings
from devstack.manager import StackManager
from devstack.prometheus import write_scrape_targets
from tests.conftest import running_stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait(what: str, check, timeout: float):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(1)
    raise AssertionError(f"not within {timeout}s: {what}")


class PrometheusApi:
    def __init__(self, settings: Settings):
        self.base = f"http://127.0.0.1:{settings.stack.prometheus_port}/api/v1"

    def query(self, promql: str) -> list[dict]:
        answer = httpx.get(f"{self.base}/query", params={"query": promql}, timeout=10).json()
        assert answer["status"] == "success", answer
        return answer["data"]["result"]

    def alerts(self, name: str, **labels: str) -> list[dict]:
        found = httpx.get(f"{self.base}/alerts", timeout=10).json()["data"]["alerts"]
        return [a for a in found if a["labels"].get("alertname") == name
                and all(a["labels"].get(k) == v for k, v in labels.items())]

    def targets(self) -> list[dict]:
        return httpx.get(f"{self.base}/targets", timeout=10).json()["data"]["activeTargets"]


@pytest.fixture(scope="module")
def prometheus(stack: Settings):
    with running_stack(stack, ["prometheus"]):
        yield PrometheusApi(stack)


@pytest.fixture
def exporter(stack: Settings):
    """`aegis exporter` (compose's pipeline-exporter), registered as the aegis-pipeline scrape job."""
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "console.cli", "exporter", "--host", "127.0.0.1",
                                "--port", str(port), "--every", "2"], start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    write_scrape_targets(stack, {"aegis-pipeline": [f"127.0.0.1:{port}"]})
    try:
        yield port
    finally:
        write_scrape_targets(stack, {"aegis-pipeline": []})
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_a_stopped_target_fires_target_unreachable_through_prometheus(stack: Settings, prometheus: PrometheusApi,
                                                                      exporter: int):
    up = _wait("Prometheus to scrape target_up for every target",
               lambda: {r["metric"]["target_db"]: r["value"][1] for r in prometheus.query("target_up")}, 60)
    assert up == {"milvus": "1", "neo4j": "1", "redis": "1", "search": "1"}, up
    assert prometheus.alerts("TargetUnreachable") == []

    manager = StackManager(stack)
    manager.down(["redis"])
    states: list[str] = []
    try:
        def firing():
            found = prometheus.alerts("TargetUnreachable", target_db="redis")
            states.extend(a["state"] for a in found)
            return [a for a in found if a["state"] == "firing"]

        alert = _wait("TargetUnreachable to fire for redis", firing, 120)[0]
        assert "pending" in states, states  # it waited out its `for` first
        assert alert["labels"]["severity"] == "critical" and alert["labels"]["job"] == "aegis-pipeline"
        assert "redis did not answer" in alert["annotations"]["description"]
        assert [a for a in prometheus.alerts("TargetUnreachable") if a["labels"]["target_db"] != "redis"] == []
    finally:
        manager.up(["redis"])
    _wait("the alert to resolve once redis is back", lambda: prometheus.alerts("TargetUnreachable") == [], 90)
