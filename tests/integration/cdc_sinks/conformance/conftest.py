"""The sink conformance suite: every sink must pass the same tests against the real path,
PostgreSQL commit → Debezium → Kafka → sink → target.

How it is parametrised: over every sink of the registry (``cdc_sinks.registry.SPECS``: a new sink
is tested here without a line of this suite changing). Every test here takes the ``sut`` fixture,
parametrised over those sinks (``AEGIS_CONFORMANCE_SINKS=search,redis`` narrows it). The test id
names the sink (and the search engine); ``Sink.describe()`` of each is printed in the terminal summary.

Only the servers these tests need are started: PostgreSQL, Kafka, Kafka Connect and each selected
target's ``stack_service``.

Each test gets a fresh namespace: its own consumer group (starting at the topic's end, so only
this test's changes are seen), its own corner of the target (``testkit.namespaces.spec_env``) and its own rows
in PostgreSQL; the target corner is dropped at the end.

Cost knobs: ``AEGIS_CONFORMANCE_OUTAGE_SECONDS`` (default 30) is how long the target stays down
under load; ``AEGIS_CONFORMANCE_LOAD`` (default 1500) is the change count of the SIGKILL test.
"""

from __future__ import annotations

import os
import secrets

import pytest

from aegis.settings import load_settings
from cdc_sinks.registry import SPECS, build_sink
from testkit.conformance import PolicyWriter, SinkUnderTest
from testkit.namespaces import spec_env
from tests.conftest import running_stack

TARGETS = SPECS
TUNING = {"SEARCH_REFRESH_INTERVAL": "100ms"}  # writes searchable sooner: checks converge faster

_ENGINES: dict[str, str] = {}


def _selected() -> list[str]:
    wanted = os.environ.get("AEGIS_CONFORMANCE_SINKS")
    names = [n.strip() for n in wanted.split(",")] if wanted else list(TARGETS)
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        raise pytest.UsageError(f"AEGIS_CONFORMANCE_SINKS names unknown sinks {unknown}; known: {list(TARGETS)}")
    return names


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "target_name" in metafunc.fixturenames:
        base = load_settings(env_file=os.environ.get("AEGIS_TEST_ENV_FILE"))
        names = _selected()
        labels = {"search": base.search.engine}
        metafunc.parametrize("target_name", names, ids=[f"{n}-{labels.get(n, n)}" for n in names])


CORE_SERVICES = ["postgres", "kafka", "kafka-connect"]


@pytest.fixture(scope="session")
def stack(settings):
    """Overrides the root ``stack``: only the change stream's servers and the selected sinks' targets,
    so each sink costs only its own server."""
    names = CORE_SERVICES + sorted({TARGETS[n].stack_service for n in _selected()})
    with running_stack(settings, names) as running:
        yield running


@pytest.fixture(scope="session")
def change_stream(stack):
    """The Debezium connector applied and running (the one every suite shares)."""
    from connectors.manage import apply_connector, wait_until_running

    apply_connector(stack)
    wait_until_running(stack, timeout=120)
    return stack


@pytest.fixture
def sut(change_stream, target_name: str, monkeypatch: pytest.MonkeyPatch):
    target = TARGETS[target_name]
    namespace = secrets.token_hex(4)
    env = {**spec_env(target, f"conf{namespace}"), **TUNING, "SINKS_GROUP_ID_PREFIX": f"conformance-{namespace}-",
           "SINKS_PROBE_INTERVAL_SECONDS": "1", "SINKS_RETRY_ATTEMPTS": "3", "SINKS_RETRY_MAX_DELAY_SECONDS": "1",
           "SINKS_BATCH_WAIT_MS": "50"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings(env_file=os.environ.get("AEGIS_TEST_ENV_FILE"))
    probe = build_sink(target_name, settings)
    try:
        engine = probe.describe()
    finally:
        probe.close()
    _ENGINES[target_name] = engine
    print(f"[conformance] sink={target_name} engine={engine} namespace={namespace}")
    under_test = SinkUnderTest(target_name, settings, env, lambda: build_sink(target_name, settings))
    under_test.target = target
    under_test.log_path = settings.stack.state_path / "logs" / f"conformance-{target_name}-{namespace}.log"
    under_test.log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield under_test
    finally:
        try:
            under_test.stop()
        finally:
            under_test.sink.drop_namespace()
            under_test.close()


@pytest.fixture
def writer(sut):
    w = PolicyWriter(sut.settings, secrets.token_hex(3))
    yield w
    before_clean_up = sut.topic.end_offsets()
    deleted = w.close()
    # The clean-up's delete events must be on the topic before the next test's group starts at its end:
    # streamed late, they would land in that test's backlog as another test's changes.
    sut.wait_changes_of(deleted, len(deleted), since=before_clean_up)


def pytest_terminal_summary(terminalreporter) -> None:
    if _ENGINES:
        terminalreporter.write_sep("-", "sink conformance: engines tested")
        for name, engine in sorted(_ENGINES.items()):
            terminalreporter.write_line(f"{name}: {engine}")
