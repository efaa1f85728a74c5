"""A per-source circuit breaker (seed §6.2.1: open after 5 consecutive failures, half-open after 60 s).

Every call that passes ``before_call`` ends in exactly one of ``record_success``,
``record_failure`` or ``release`` — ``guard()`` makes sure of it, whatever the call raises — so a
half-open trial can never stay "in flight" for ever: a trial that ends in a quota error (not the
source's fault) or an unexpected exception leaves the breaker half-open or open again, never
stuck open until a restart. As a last resort a trial that has not ended within
``recovery_seconds`` (a thread that died mid-call) is given up and another trial may go.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
    failure opens it again for another ``recovery_seconds``, a neutral end (``release``) lets
    the next call be the trial."""

    def __init__(self, name: str, failure_threshold: int = 5, recovery_seconds: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        self.name = name
        self.failure_threshold = failure_threshold
        self.recovery_seconds = recovery_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_started: float | None = None  # when the half-open trial went out

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

    def _trial_in_flight(self) -> bool:
        if self._trial_started is None:
            return False
        if self._clock() - self._trial_started >= self.recovery_seconds:
            self._trial_started = None  # never ended (its thread died): give it up
            return False
        return True

    def before_call(self) -> None:
        """Raise ``CircuitOpenError`` unless a call may go out now."""
        with self._lock:
            state = self._state()
            if state is BreakerState.CLOSED:
                return
            if state is BreakerState.HALF_OPEN and not self._trial_in_flight():
                self._trial_started = self._clock()
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
            self._trial_started = None

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._trial_started is not None or self._failures >= self.failure_threshold:
                self._opened_at = self._clock()
            self._trial_started = None

    def release(self) -> None:
        """End a call without a verdict (a quota answer, an interrupted call): a half-open
        breaker stays half-open and the next call is the trial; counts are unchanged."""
        with self._lock:
            self._trial_started = None

    @contextmanager
    def guard(self, neutral: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
        """``before_call``, then exactly one verdict for the block: success when it returns,
        ``release`` for a ``neutral`` exception or anything that is not an ``Exception``
        (KeyboardInterrupt, SystemExit), failure for every other exception."""
        self.before_call()
        try:
            yield
        except neutral:
            self.release()
            raise
        except Exception:
            self.record_failure()
            raise
        except BaseException:
            self.release()
            raise
        self.record_success()

    @property
    def consecutive_failures(self) -> int:
        with self._lock:
            return self._failures
