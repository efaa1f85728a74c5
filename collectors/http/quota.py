"""Quota windows: after a quota error a source is left alone until its next window opens."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from aegis.errors import ErrorCode, TerminalError
from collectors.parsing.dates import KST


class QuotaExceededError(TerminalError):
    """The call quota is used up (data.go.kr code 22): not retried; the source waits for its next window."""

    default_code = ErrorCode.API_RATE_LIMIT_EXCEEDED


def next_kst_midnight(now: datetime) -> datetime:
    """data.go.kr daily quotas reset at 00:00 KST."""
    local = now.astimezone(KST)
    return (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


class QuotaGate:
    """Remembers, per source, until when it must not be called."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(KST)):
        self._clock = clock
        self._blocked_until: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def block(self, source: str) -> datetime:
        until = next_kst_midnight(self._clock())
        with self._lock:
            self._blocked_until[source] = until
        return until

    def blocked_until(self, source: str) -> datetime | None:
        with self._lock:
            until = self._blocked_until.get(source)
            if until is not None and self._clock() >= until:
                del self._blocked_until[source]
                return None
            return until
