"""Restart the connector's failed tasks: Kafka Connect never restarts a FAILED task by itself.

A task fails for good on errors Debezium does not retry, e.g. the Avro converter when the schema
registry is down, or PostgreSQL refusing the replication connection for longer than Debezium's own
retries. The main job (`aegis run`) calls :meth:`ConnectorWatchdog.check` on every tick, and
`aegis connectors watch` (compose's ``connector-watchdog`` service) in a loop of its own; the watchdog
looks at the connector every ``check_every`` seconds and restarts failed tasks with an exponential
backoff (``base_backoff`` doubling up to ``max_backoff``), reset once the connector runs again. Every
decision is reported in one line with the first line of the task's trace, and counted in
:class:`WatchdogMetrics` (``connector_running``, ``connector_failed_tasks``,
``connector_task_restarts_total``, ``connector_last_check_timestamp_seconds``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge

from aegis.errors import AegisError
from aegis.settings import Settings
from connectors.manage import ConnectorStatus, connector_status, restart_connector

log = logging.getLogger(__name__)

Report = Callable[[str], None]


class WatchdogMetrics:
    """What the watchdog saw at its last check, and how often it restarted the connector's tasks."""

    def __init__(self, connector: str, registry: CollectorRegistry | None = None):
        self.registry = r = registry or CollectorRegistry()
        self.connector = connector
        self.running = Gauge("connector_running", "1 while the connector and every task run (0 also when "
                             "Kafka Connect does not answer)", ["connector"], registry=r)
        self.failed_tasks = Gauge("connector_failed_tasks", "Tasks in state FAILED at the last check",
                                  ["connector"], registry=r)
        self.restarts = Counter("connector_task_restarts_total", "Restarts of failed tasks by the watchdog",
                                ["connector"], registry=r)
        self.last_check = Gauge("connector_last_check_timestamp_seconds", "When the watchdog last read the "
                                "connector's state", ["connector"], registry=r)
        self.restarts.labels(connector)
        self.failed_tasks.labels(connector).set(0)
        self.running.labels(connector).set(0)

    def checked(self, status: ConnectorStatus | None) -> None:
        self.running.labels(self.connector).set(1 if status is not None and status.running else 0)
        if status is not None:
            self.failed_tasks.labels(self.connector).set(len(status.failed_tasks))
            self.last_check.labels(self.connector).set_to_current_time()


class ConnectorWatchdog:
    """Watches one connector and restarts its failed tasks, with backoff."""

    def __init__(self, settings: Settings, report: Report, *, check_every: float = 15.0,
                 base_backoff: float = 10.0, max_backoff: float = 300.0,
                 clock: Callable[[], float] = time.monotonic,
                 status: Callable[[], ConnectorStatus] | None = None, restart: Callable[[], None] | None = None,
                 metrics: WatchdogMetrics | None = None):
        self.report = report
        self.metrics = metrics or WatchdogMetrics(settings.connector.name)
        self.check_every = check_every
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.restarts = 0
        self._clock = clock
        self._status = status or (lambda: connector_status(settings, with_slot=False))
        self._restart = restart or (lambda: restart_connector(settings, only_failed=True))
        self._next_check = 0.0
        self._next_restart = 0.0
        self._unreachable_reported = False

    def check(self) -> None:
        """Look at the connector if a check is due; restart failed tasks if their backoff has passed."""
        now = self._clock()
        if now < self._next_check:
            return
        self._next_check = now + self.check_every
        try:
            status = self._status()
        except AegisError as exc:  # Kafka Connect itself down: the stack's business, report once
            self.metrics.checked(None)
            if not self._unreachable_reported:
                self.report(f"connector watchdog: cannot read the connector's state ({exc.code.value}); "
                            "retrying every check")
                self._unreachable_reported = True
            return
        self._unreachable_reported = False
        self.metrics.checked(status)
        failed = status.failed_tasks
        if status.state != "FAILED" and not failed:
            if self.restarts and status.running:
                self.report(f"connector {status.name}: running again after {self.restarts} restart(s)")
                self.restarts = 0
            return
        if now < self._next_restart:
            return
        self.restarts += 1
        delay = min(self.max_backoff, self.base_backoff * 2 ** (self.restarts - 1))
        self._next_restart = now + delay
        what = f"task(s) {', '.join(str(t.id) for t in failed)}" if failed else "connector"
        self.report(f"connector {status.name}: {what} FAILED ({status.failure_trace.strip().splitlines()[0][:200]}); "
                    f"restarting (restart #{self.restarts}; next at the earliest in {delay:.0f}s)")
        self.metrics.restarts.labels(self.metrics.connector).inc()
        try:
            self._restart()
        except AegisError as exc:
            self.report(f"connector {status.name}: restart failed: {exc}")
