"""A per-source circuit breaker (seed §6.2.1: open after 5 consecutive failures, half-open after 60 s)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import Enum

from aegis.errors import ErrorCode, TransientError


class BreakerState(str, Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpenError(TransientError):
    """The source failed too often; calls fail fast until the recovery time has passed."""

    default_code = ErrorCode.DATA_SOURCE_UNAVAILABLE


class CircuitBreaker:
    """Closed: calls pass. ``failure_threshold`` consecutive failures open it: calls fail fast.
    After ``recovery_seconds`` one trial call is let through (half-open): success closes it,
    failure opens it again for another ``recovery_seconds``."""

    def __init__(self, name: str, failure_threshold: int = 5, recovery_seconds: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        self.name = name
        self.failure_threshold = failure_threshold
        self.recovery_seconds = recovery_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._state()

    def _state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self.recovery_seconds:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def before_call(self) -> None:
        """Raise ``CircuitOpenError`` unless a call may go out now."""
        with self._lock:
            state = self._state()
            if state is BreakerState.CLOSED:
                return
            if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
                self._trial_in_flight = True
                return
            wait = max(0.0, self.recovery_seconds - (self._clock() - (self._opened_at or 0.0)))
        raise CircuitOpenError(
            f"{self.name}: circuit open after {self.failure_threshold} consecutive failures; "
            f"no request sent (next trial in {wait:.0f}s)",
            hint="the source is failing; it is tried again automatically after the recovery time")

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial_in_flight = False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._trial_in_flight or self._failures >= self.failure_threshold:
                self._opened_at = self._clock()
            self._trial_in_flight = False

    @property
    def consecutive_failures(self) -> int:
        with self._lock:
            return self._failures
