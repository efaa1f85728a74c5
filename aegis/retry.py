"""The one retry helper: bounded attempts, exponential backoff, full jitter.

Only ``TransientError`` is retried; anything else propagates at once.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from aegis.errors import TransientError

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 10.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Full-jitter delay before retry number ``attempt`` (1-based)."""
        cap = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return (rng or random).uniform(0, cap)


def retry_call(fn: Callable[[], T], policy: RetryPolicy = RetryPolicy(), *,
               what: str = "call", sleep: Callable[[float], None] = time.sleep) -> T:
    """Call ``fn``; on ``TransientError`` wait and try again, at most ``policy.attempts`` times."""
    for attempt in range(1, policy.attempts + 1):
        try:
            return fn()
        except TransientError as exc:
            if attempt == policy.attempts:
                raise
            wait = policy.delay(attempt)
            log.warning("retrying %s after transient error (attempt %d/%d, wait %.2fs): %s",
                        what, attempt, policy.attempts, wait, exc.message)
            sleep(wait)
    raise AssertionError("unreachable")
