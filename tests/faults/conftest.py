"""The fault-injection suite (``make faults``; marker ``faults``, skipped unless ``-m faults`` asks for it).

One session: the whole local stack (started if needed), a database and change stream of its own
(``faults_env``), a working set of active policies, the four sink processes under the main job's
supervisor; then one test per fault (``faults_suite``). At the end the sinks stop, the target
corners are dropped, the stream is deleted and the results table is added to bench/RESULTS.md.

Knobs (environment): AEGIS_FAULTS_RATE (20 changes/s), AEGIS_FAULTS_STOP_SECONDS (60),
AEGIS_FAULTS_POISON (100), AEGIS_FAULTS_WORKING_SET (200), AEGIS_FAULTS_GOAL_SECONDS (30),
AEGIS_FAULTS_TIMEOUT_SECONDS (180), AEGIS_FAULTS_EMBEDDER (onnx-int8),
AEGIS_FAULTS_RESULTS (bench/RESULTS.md; ``-`` writes nothing).
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from pathlib import Path

import pytest

from aegis.db import connect
from aegis.settings import Settings, load_settings
from connectors.manage import delete_connector
from testkit.databases import ensure_database
from testkit.load import DEFAULT_MIX, Generator
from testkit.machine import machine
from testkit.policies import seed_policies
from testkit.results import RESULTS
from testkit.streams import delete_topics, isolated_stream, stream_topics
from testkit.targets import TARGETS, build_reader
from tests.faults.faults_check import wait_converged
from tests.faults.faults_env import suite_env
from tests.faults.faults_pipeline import SinkPipeline
from tests.faults.faults_report import markdown, write
from tests.faults.faults_suite import FaultSuite, Timing

WORKING_SET = int(os.environ.get("AEGIS_FAULTS_WORKING_SET", "200"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "faults" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason="the fault-injection suite runs with `make faults` (pytest -m faults tests/faults)")
    for item in items:
        if "faults" in item.keywords:
            item.add_marker(skip)


def timing() -> Timing:
    env = os.environ.get
    return Timing(rate=float(env("AEGIS_FAULTS_RATE", "20")), goal=float(env("AEGIS_FAULTS_GOAL_SECONDS", "30")),
                  timeout=float(env("AEGIS_FAULTS_TIMEOUT_SECONDS", "180")))


def fresh_database(settings: Settings) -> None:
    """The suite's database, migrated and empty, with no stream left from an interrupted run."""
    ensure_database(settings)
    delete_connector(settings, drop_replication=True)
    delete_topics(settings, stream_topics(settings))
    with connect(settings.postgres, role="owner", autocommit=True) as conn:
        conn.execute("TRUNCATE policies, outbox CASCADE")


@pytest.fixture(scope="session")
def fault_suite(stack: Settings):
    started, host = time.monotonic(), machine()
    namespace = secrets.token_hex(4)
    env = suite_env(stack, namespace)
    patch = pytest.MonkeyPatch()
    for key, value in env.items():
        patch.setenv(key, value)
    settings = load_settings(env_file=None)
    suite = None
    try:
        fresh_database(settings)
        with isolated_stream(settings):
            with connect(settings.postgres, role="owner", autocommit=True) as conn:
                hashes = seed_policies(conn, f"faults-{namespace}", WORKING_SET)
            pipeline = SinkPipeline(env, settings.stack.state_path / "logs" / f"faults-{namespace}")
            pipeline.start()
            try:
                first = wait_converged(settings, 600)
                assert first.clean, f"the seeded working set never reached every target: {first.describe()}"
                print(f"[faults] {WORKING_SET} policies in every target after {time.monotonic() - started:.0f} s "
                      f"(namespace {namespace})", flush=True)
                suite = FaultSuite(settings, pipeline, Generator(f"faults-{namespace}", list(hashes), hashes,
                                                                 DEFAULT_MIX), timing())
                yield suite
            finally:
                pipeline.stop()
                for target in TARGETS:
                    try:
                        build_reader(target, settings).cleanup()
                    except Exception as exc:  # noqa: BLE001 - clean-up never hides the suite's result
                        print(f"[faults] dropping the {target} corner failed: {exc}")
    finally:
        patch.undo()
        if suite is not None and suite.results:
            _write_results(suite, host, time.monotonic() - started)


def _write_results(suite: FaultSuite, host: dict, duration: float) -> None:
    command = "make faults" if os.environ.get("MAKELEVEL") else " ".join(["pytest", *sys.argv[1:]])
    block = markdown(suite.results, machine=host, duration=duration, command=command, goal=suite.timing.goal,
                     timeout=suite.timing.timeout)
    print(block)
    target = os.environ.get("AEGIS_FAULTS_RESULTS", str(RESULTS))
    if target != "-":
        write(Path(target), block)
        print(f"[faults] results added to {target}")
