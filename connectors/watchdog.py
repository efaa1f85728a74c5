"""Restart the connector's failed tasks: Kafka Connect never restarts a FAILED task by itself.

A task fails for good on errors Debezium does not retry, e.g. the Avro converter when the schema
registry is down, or PostgreSQL refusing the replication connection for longer than Debezium's own
retries. The main job (`aegis run`) calls :meth:`ConnectorWatchdog.check` on every tick; the watchdog
looks at the connector every ``check_every`` seconds and restarts failed tasks with an exponential
backoff (``base_backoff`` doubling up to ``max_backoff``), reset once the connector runs again. Every
decision is reported in one line with the first line of the task's trace.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from aegis.errors import AegisError
from aegis.settings import Settings
from connectors.manage import ConnectorStatus, connector_status, restart_connector

log = logging.getLogger(__name__)

Report = Callable[[str], None]


class ConnectorWatchdog:
    """Watches one connector and restarts its failed tasks, with backoff."""

    def __init__(self, settings: Settings, report: Report, *, check_every: float = 15.0,
                 base_backoff: float = 10.0, max_backoff: float = 300.0,
                 clock: Callable[[], float] = time.monotonic,
                 status: Callable[[], ConnectorStatus] | None = None, restart: Callable[[], None] | None = None):
        self.report = report
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
            if not self._unreachable_reported:
                self.report(f"connector watchdog: cannot read the connector's state ({exc.code.value}); "
                            "retrying every check")
                self._unreachable_reported = True
            return
        self._unreachable_reported = False
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
        try:
            self._restart()
        except AegisError as exc:
            self.report(f"connector {status.name}: restart failed: {exc}")
