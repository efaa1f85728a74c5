"""The test slot: the stack every test session runs against, apart from the user's.

``activate()`` (called once, when the root conftest is imported) reads the test env file —
``AEGIS_TEST_ENV_FILE``, default ``tests/stack-test.env`` — and exports its variables into the
session's environment, plus ``AEGIS_ENV_FILE`` naming it. So every settings tree the tests load,
with or without an env file, and every ``aegis`` process they start (which reads AEGIS_ENV_FILE
instead of ``.env``) uses the test stack: its own state directory, ports, topics, consumer groups
and dead-letter topic. Unit tests get the original environment back (tests/unit/conftest.py).

``check_apart()`` refuses a slot that shares a state directory or a port with the user's stack
(the repository's ``.env`` and the environment, as ``aegis`` would read them outside the tests)
or with the built-in defaults; ``check_ports_free()`` refuses to start a test server on a port
some process other than the test stack holds (another test run on the same slot).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import httpx
from dotenv import dotenv_values

from aegis.settings import Settings, default_settings, load_settings

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ENV_FILE = REPO / "tests" / "stack-test.env"
METRICS_PORTS = 10  # the main job's /metrics ports from METRICS_PORT (sinks, collector, reconciler, exporter)
MILVUS_PORTS = 12   # Milvus's gRPC port and the next 11
_ORIGINALS_VARIABLE = "AEGIS_TEST_SLOT_ORIGINALS"
_ACTIVE: "StackSlot | None" = None


def ports(settings: Settings) -> dict[int, str]:
    """Every port a stack and the main job on ``settings`` listen on, with what listens there."""
    def url_port(url: str) -> int:
        return httpx.URL(url).port or 0

    from devstack.kafka import broker_port, controller_port, node_name

    found = {settings.postgres.port: "postgres", settings.redis.port: "redis",
             settings.neo4j.port: "neo4j",
             url_port(settings.schema_registry.url): "schema-registry",
             url_port(settings.search.url): "opensearch", settings.stack.opensearch_transport_port: "opensearch transport",
             url_port(settings.sources.samples_url): "sample server"}
    for node in range(1, settings.stack.kafka_brokers + 1):  # the cluster profile's nodes too
        found[broker_port(settings, node)] = node_name("kafka", node)
        found[controller_port(settings, node)] = f"{node_name('kafka', node)} controller"
    for worker in range(settings.stack.connect_workers):
        found[url_port(settings.kafka.connect_url) + worker] = node_name("kafka-connect", worker + 1)
    found.update({settings.milvus.port + i: "milvus" for i in range(MILVUS_PORTS)})
    found.update({settings.service.metrics_port + i: "main job /metrics" for i in range(METRICS_PORTS)})
    found[settings.stack.prometheus_port] = "prometheus"
    return found


@dataclass
class StackSlot:
    env_file: Path
    exported: dict[str, str]
    originals: dict[str, str | None]
    user: Settings | None
    user_problem: str | None

    @classmethod
    def activate(cls) -> "StackSlot":
        """Export the test slot into this process's environment (once; a pytest started by a test
        inherits the slot and, through AEGIS_TEST_SLOT_ORIGINALS, what the environment was before it)."""
        global _ACTIVE
        if _ACTIVE is not None:
            return _ACTIVE
        path = Path(os.environ.get("AEGIS_TEST_ENV_FILE") or DEFAULT_ENV_FILE)
        path = path if path.is_absolute() else (Path.cwd() / path).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"test env file {path} (AEGIS_TEST_ENV_FILE) does not exist")
        values = {k: v for k, v in dotenv_values(path).items() if v is not None}
        state = Path(values.get("AEGIS_STACK_STATE_DIR", ".stack-test"))
        values["AEGIS_STACK_STATE_DIR"] = str(state if state.is_absolute() else REPO / state)
        values["AEGIS_ENV_FILE"] = values["AEGIS_TEST_ENV_FILE"] = str(path)
        outer = json.loads(os.environ.get(_ORIGINALS_VARIABLE, "{}"))
        before = {**os.environ}
        for key, value in outer.items():
            if value is None:
                before.pop(key, None)
            else:
                before[key] = value
        before.pop(_ORIGINALS_VARIABLE, None)
        originals = {key: before.get(key) for key in {*values, *outer, _ORIGINALS_VARIABLE}}
        user, problem = None, None
        with _environment(before):  # what `aegis` reads outside the tests
            try:
                user = load_settings(REPO / ".env")
            except Exception as exc:  # noqa: BLE001 - reported when an integration test asks for the stack
                problem = str(exc)
        os.environ.update(values)
        os.environ[_ORIGINALS_VARIABLE] = json.dumps({k: v for k, v in originals.items() if k != _ORIGINALS_VARIABLE})
        _ACTIVE = cls(path, values, originals, user, problem)
        return _ACTIVE

    def restore(self, monkeypatch) -> None:
        """Give one test the environment as it was before ``activate`` (unit tests need no stack)."""
        for key, value in self.originals.items():
            if value is None:
                monkeypatch.delenv(key, raising=False)
            else:
                monkeypatch.setenv(key, value)

    def collisions(self, test: Settings) -> list[str]:
        """What the test slot shares with the user's stack or the defaults (empty: apart)."""
        if self.user is None:
            return [f"the user's settings (.env) cannot be read, so the test slot cannot be checked "
                    f"against them: {self.user_problem}"]
        defaults = _defaults()
        problems = []
        for label, other in (("the user's stack (.env)", self.user), ("the default stack", defaults)):
            if test.stack.state_path == other.stack.state_path:
                problems.append(f"state directory {test.stack.state_path} is {label}'s")
            theirs = ports(other)
            shared: dict[str, list[int]] = {}
            for port, what in sorted(ports(test).items()):
                if port in theirs:
                    shared.setdefault(what if theirs[port] == what else f"{what} (theirs: {theirs[port]})",
                                      []).append(port)
            problems += [f"{what} port(s) {_spans(found)} are also {label}'s" for what, found in shared.items()]
        return problems

    def check_apart(self, test: Settings) -> None:
        problems = self.collisions(test)
        if problems:
            raise SlotCollision(
                f"refusing to run integration tests on {self.env_file}: it is not apart from the user's stack:\n  - "
                + "\n  - ".join(problems)
                + "\nGive the tests their own state directory and ports (AEGIS_TEST_ENV_FILE, default "
                  "tests/stack-test.env).")


def _spans(numbers: list[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``1-3, 7``."""
    spans: list[list[int]] = []
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    saved = {**os.environ}
    os.environ.clear()
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class SlotCollision(RuntimeError):
    """The test slot shares a state directory or a port with the user's stack."""


def _defaults() -> Settings:
    """The built-in defaults: every settings group built from its field defaults alone (no environment)."""
    return default_settings()


def check_ports_free(settings: Settings, names: list[str] | None) -> None:
    """Each selected test server that this stack has not started must find its port free: a port
    held by another process means another test run (or stack) on this slot."""
    from devstack.base import port_open
    from devstack.manager import StackManager

    manager = StackManager(settings)
    running = {s.name for s in manager.status(names) if s.pid is not None}
    busy = [f"{service.name} port {service.port}" for service in manager.select(names)
            if service.name not in running and port_open(service.port)]
    if busy:
        raise SlotCollision(f"the test stack ({settings.stack.state_path}) has not started these servers, yet "
                            f"their ports are taken: {', '.join(busy)}. Another test run on the same slot? "
                            "Give this run a slot of its own (AEGIS_TEST_ENV_FILE).")
