"""A steady load that outlives its faults: the end-to-end benchmark's change mix (``testkit.load``), one
writer, reconnecting on errors.

``testkit.load`` chooses and commits the changes; this thread only paces them at ``rate`` and keeps
going while PostgreSQL restarts (a failed change is counted and not retried; slots missed while the
database was away are skipped, not bunched up afterwards).
"""

from __future__ import annotations

import threading
import time

import psycopg

from aegis.db import connect
from aegis.errors import AegisError
from aegis.settings import Settings
from testkit.load import Generator, apply


class SteadyLoad(threading.Thread):
    def __init__(self, settings: Settings, generator: Generator, rate: float):
        super().__init__(name="faults-load", daemon=True)
        self.settings, self.generator, self.rate = settings, generator, rate
        self.committed = 0
        self.errors = 0
        self.last_error = ""
        self.elapsed = 0.0
        self._halt = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        next_at, conn = started, None
        try:
            while not self._halt.is_set():
                now = time.monotonic()
                if next_at > now:
                    self._halt.wait(next_at - now)
                    continue
                next_at = max(next_at + 1 / self.rate, now - 1.0)  # at most a second's catch-up
                try:
                    if conn is None:
                        conn = connect(self.settings.postgres, role="owner", autocommit=True)
                    change = self.generator.next()
                    apply(conn, self.generator, change)
                    self.generator.done(change)
                    self.committed += 1
                except (AegisError, psycopg.Error) as exc:
                    self.errors += 1
                    self.last_error = str(exc).splitlines()[0][:200]
                    if conn is not None:
                        conn.close()
                    conn = None
                    self._halt.wait(0.5)
        finally:
            self.elapsed = time.monotonic() - started
            if conn is not None:
                conn.close()

    def finish(self) -> None:
        self._halt.set()
        self.join(30)

    @property
    def achieved_rate(self) -> float:
        return self.committed / self.elapsed if self.elapsed else 0.0
