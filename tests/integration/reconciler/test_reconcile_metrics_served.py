"""The scheduled reconciler serves its metrics (`aegis reconcile --schedule --metrics-port`): after a
pass that repaired drift injected into the real search engine, /metrics shows the drift by target
and kind, the verified repairs, the target's status and the pass's result."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_drift_repair import inject_search

from testkit.policies import good_policy, insert_policy

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _samples(port: int) -> dict[tuple[str, frozenset], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_a_scheduled_pass_that_repairs_drift_shows_it_on_metrics(aegis, pg, rsettings, reconcile_env):
    batch = secrets.token_hex(3)
    ids = [insert_policy(pg, good_policy("bizinfo", f"m-{batch}-{i}", status="active", quality_score=0.9,
                                         title=f"지표 점검 {batch} 지원사업 {i}")) for i in range(30)]
    for _ in range(3):  # fill the module's search corner the way the reconciler repairs it
        aegis.report("--target", "search")
        if aegis.report("--dry-run", "--target", "search")[0] == 0:
            break
    foreign = 910_000_000 + secrets.randbelow(1000)
    inject_search(rsettings, [ids[2], ids[20]], foreign)

    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "console.cli", "--env-file", "/nonexistent/.env", "reconcile",
                                "--schedule", "--target", "search", "--metrics-port", str(port)],
                               env={**os.environ, **reconcile_env, "RECONCILE_INTERVAL": "3600"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline, samples = time.monotonic() + 180, {}
        while time.monotonic() < deadline:
            try:
                samples = _samples(port)
            except httpx.HTTPError:
                samples = {}
            if samples.get(("reconcile_passes_total", frozenset({("result", "repaired")}))) == 1:
                break
            assert process.poll() is None, process.stderr.read()
            time.sleep(1)

        def value(name: str, **labels: str) -> float | None:
            return samples.get((name, frozenset(labels.items())))

        assert value("reconcile_passes_total", result="repaired") == 1, samples
        assert value("reconcile_drift_records", target_db="search", kind="missing") == 2
        assert value("reconcile_drift_records", target_db="search", kind="orphaned") == 1
        assert value("reconcile_drift_records", target_db="search", kind="stale") == 0
        assert value("reconcile_repaired_records_total", target_db="search", verified="true") == 3
        assert value("reconcile_target_status", target_db="search", status="repaired") == 1
        assert value("reconcile_last_pass_failed") == 0
        assert value("reconcile_last_success_timestamp_seconds") > time.time() - 300
        assert value("reconcile_pass_duration_seconds_count") == 1
        assert value("reconcile_interval_seconds") == 3600
        assert httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=5).json()["last_result"] == "repaired"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        code = process.wait(timeout=60)
    assert code == 0
