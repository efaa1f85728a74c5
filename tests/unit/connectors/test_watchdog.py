"""The connector watchdog: restarts failed tasks with backoff, quiet while the connector runs."""

from __future__ import annotations

from aegis.errors import ErrorCode, TransientError
from aegis.settings import load_settings
from connectors.manage import ConnectorStatus
from connectors.rest import TaskState
from connectors.watchdog import ConnectorWatchdog

FAILED = ConnectorStatus(name="aegis-policies-source", present=True, state="RUNNING",
                         tasks=[TaskState(id=0, state="FAILED", trace="org.apache.kafka.connect.errors.DataException: "
                                          "registry unreachable\n\tat ...")])
RUNNING = ConnectorStatus(name="aegis-policies-source", present=True, state="RUNNING",
                          tasks=[TaskState(id=0, state="RUNNING")])


class Fake:
    def __init__(self, states):
        self.states, self.now, self.restarts, self.lines = list(states), 0.0, 0, []

    def status(self):
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        if isinstance(state, Exception):
            raise state
        return state

    def restart(self):
        self.restarts += 1

    def watchdog(self):
        return ConnectorWatchdog(load_settings(env_file=None), self.lines.append, check_every=5, base_backoff=10,
                                 max_backoff=40, clock=lambda: self.now, status=self.status, restart=self.restart)


def _run(fake: Fake, watchdog: ConnectorWatchdog, seconds: int) -> None:
    for _ in range(seconds):
        watchdog.check()
        fake.now += 1


def test_a_failed_task_is_restarted_with_growing_backoff_and_its_trace_reported():
    fake = Fake([FAILED])
    _run(fake, fake.watchdog(), 100)
    # restarts at t=0, 10, 30, 70 (backoff 10, 20, 40, then capped at 40)
    assert fake.restarts == 4
    assert "task(s) 0 FAILED (org.apache.kafka.connect.errors.DataException: registry unreachable)" in fake.lines[0]
    assert "restart #4" in fake.lines[-1]


def test_once_running_again_it_says_so_and_the_backoff_starts_afresh():
    fake = Fake([FAILED, RUNNING, RUNNING, FAILED])
    watchdog = fake.watchdog()
    _run(fake, watchdog, 16)
    assert fake.restarts == 2 and any("running again after 1 restart(s)" in line for line in fake.lines)
    assert "restart #1;" in fake.lines[-1]


def test_a_running_connector_is_left_alone_and_an_unreachable_connect_reported_once():
    fake = Fake([RUNNING])
    _run(fake, fake.watchdog(), 60)
    assert fake.restarts == 0 and fake.lines == []
    down = Fake([TransientError("connect down", code=ErrorCode.CONNECTOR_FAILED)])
    _run(down, down.watchdog(), 60)
    assert down.restarts == 0 and len(down.lines) == 1 and "cannot read the connector's state" in down.lines[0]


def test_what_it_sees_and_does_is_counted():
    fake = Fake([FAILED, FAILED, RUNNING])
    watchdog = fake.watchdog()
    registry = watchdog.metrics.registry

    def value(name: str) -> float:
        return registry.get_sample_value(name, {"connector": "aegis-policies-source"})

    assert value("connector_task_restarts_total") == 0 and value("connector_running") == 0
    _run(fake, watchdog, 1)
    assert value("connector_failed_tasks") == 1 and value("connector_task_restarts_total") == 1
    _run(fake, watchdog, 20)
    assert value("connector_failed_tasks") == 0 and value("connector_running") == 1
    assert value("connector_task_restarts_total") == 1


def test_kafka_connect_unreachable_means_not_running():
    fake = Fake([RUNNING, TransientError("connection refused", code=ErrorCode.DATABASE_UNAVAILABLE)])
    watchdog = fake.watchdog()
    _run(fake, watchdog, 1)
    assert watchdog.metrics.registry.get_sample_value("connector_running", {"connector": "aegis-policies-source"}) == 1
    _run(fake, watchdog, 6)
    assert watchdog.metrics.registry.get_sample_value("connector_running", {"connector": "aegis-policies-source"}) == 0
