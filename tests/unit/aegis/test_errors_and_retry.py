import random

import pytest

from aegis.errors import AegisError, DataError, ErrorCode, TerminalError, TransientError
from aegis.retry import RetryPolicy, retry_call


def test_error_text_names_code_what_and_next_step():
    err = TerminalError("kafka did not start", code=ErrorCode.STACK_SERVICE_FAILED, hint="see .stack/logs/kafka.log")
    assert str(err) == "[DP_5002] kafka did not start\n  -> see .stack/logs/kafka.log"
    assert err.to_dict()["code"] == "DP_5002"


def test_branches_share_one_root():
    for cls in (TransientError, TerminalError, DataError):
        assert issubclass(cls, AegisError)


def test_retry_recovers_from_transient_errors():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise TransientError("timeout")
        return "ok"

    assert retry_call(flaky, RetryPolicy(attempts=5), sleep=lambda _: None) == "ok"
    assert len(calls) == 3


def test_retry_is_bounded():
    calls = []

    def down():
        calls.append(1)
        raise TransientError("connection refused")

    with pytest.raises(TransientError):
        retry_call(down, RetryPolicy(attempts=4), sleep=lambda _: None)
    assert len(calls) == 4


def test_non_transient_errors_are_not_retried():
    calls = []

    def bad():
        calls.append(1)
        raise DataError("poison")

    with pytest.raises(DataError):
        retry_call(bad, sleep=lambda _: None)
    assert calls == [1]


def test_backoff_grows_exponentially_with_full_jitter_and_a_cap():
    policy = RetryPolicy(attempts=10, base_delay=0.5, max_delay=4.0)
    rng = random.Random(7)
    for attempt in range(1, 10):
        cap = min(4.0, 0.5 * 2 ** (attempt - 1))
        delays = [policy.delay(attempt, rng) for _ in range(200)]
        assert all(0 <= d <= cap for d in delays)
        assert max(delays) > cap * 0.8  # jitter spreads over the whole window
