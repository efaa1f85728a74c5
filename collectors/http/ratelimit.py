"""A per-source rate limit: at most ``rate`` requests a second, spaced evenly."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Blocks in ``acquire`` until the next request is allowed (a token bucket of size one)."""

    def __init__(self, requests_per_second: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.interval = 1.0 / requests_per_second
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_allowed = 0.0

    def acquire(self) -> float:
        """Wait for a slot; return how long we waited."""
        with self._lock:
            now = self._clock()
            wait = max(0.0, self._next_allowed - now)
            self._next_allowed = max(now, self._next_allowed) + self.interval
        if wait:
            self._sleep(wait)
        return wait
