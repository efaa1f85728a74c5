"""SourceHttpClient against the sample server: retries, breaker, rate limit, size cap, redaction."""

from __future__ import annotations

import logging

import pytest

from aegis.errors import ErrorCode, TerminalError, TransientError
from aegis.retry import RetryPolicy
from collectors.http.breaker import BreakerState, CircuitBreaker, CircuitOpenError
from collectors.http.client import ClientPolicy, HttpResponse, Redactor, SourceHttpClient, normalise_key
from collectors.http.quota import QuotaGate, next_kst_midnight
from collectors.http.ratelimit import RateLimiter
from collectors.parsing.dates import KST
from collectors.samples.faults import Fault, FaultKind

SECRET = "Xy7%2BsEcReT%3D%3D"  # a data.go.kr key as issued, URL-encoded


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_client(breaker: CircuitBreaker | None = None, *, attempts: int = 3, timeout: float = 2.0,
                max_bytes: int = 5_000_000) -> SourceHttpClient:
    policy = ClientPolicy(timeout_seconds=timeout, requests_per_second=1000, max_bytes=max_bytes,
                          retry=RetryPolicy(attempts=attempts, base_delay=0.0, max_delay=0.0))
    return SourceHttpClient("kstartup", policy, breaker or CircuitBreaker("kstartup"), secrets=[SECRET])


def kstartup(server) -> str:
    return server.url + "/B552735/kisedKstartupService01/getAnnouncementInformation01"


def status_of(response: HttpResponse) -> int:
    return response.status_code


def test_transient_5xx_is_retried_then_succeeds(sample_server):
    sample_server.faults.add(Fault(source="kstartup", kind=FaultKind.HTTP_ERROR, status=503, times=2))
    with make_client() as client:
        assert client.get(kstartup(sample_server), {"page": 1}, status_of, what="page 1") == 200
    assert sample_server.faults.requests("kstartup") == 3


def test_retries_are_bounded_and_the_error_names_its_code(sample_server):
    sample_server.faults.add(Fault(source="kstartup", kind=FaultKind.HTTP_ERROR, status=500, times=-1))
    with make_client(attempts=3) as client, pytest.raises(TransientError) as raised:
        client.get(kstartup(sample_server), {"page": 1}, status_of, what="page 1")
    assert raised.value.code is ErrorCode.DATA_SOURCE_UNAVAILABLE and "HTTP 500" in raised.value.message
    assert sample_server.faults.requests("kstartup") == 3


def test_slow_answers_time_out_and_truncated_bodies_are_transient(sample_server):
    sample_server.faults.add(Fault(source="kstartup", kind=FaultKind.SLOW, delay=1.0, times=1))
    sample_server.faults.add(Fault(source="kstartup", kind=FaultKind.TRUNCATED, times=1))
    with make_client(attempts=1, timeout=0.3) as client:
        with pytest.raises(TransientError, match="within 0.3s"):
            client.get(kstartup(sample_server), {"page": 1}, status_of, what="page 1")
        with pytest.raises(TransientError) as truncated:
            client.get(kstartup(sample_server), {"page": 1, "serviceKey": "SAMPLE-KEY"}, status_of, what="page 1")
    assert truncated.value.code is ErrorCode.DATA_SOURCE_UNAVAILABLE


def test_throttling_is_dp_1002(sample_server):
    sample_server.faults.add(Fault(source="korea_rss", kind=FaultKind.QUOTA, times=1))
    policy = ClientPolicy(timeout_seconds=2, requests_per_second=1000, max_bytes=10**6,
                          retry=RetryPolicy(attempts=1, base_delay=0, max_delay=0))
    with SourceHttpClient("korea_rss", policy, CircuitBreaker("korea_rss")) as client, \
            pytest.raises(TransientError) as raised:
        client.get(sample_server.url + "/rss/policy.xml", {}, status_of, what="feed")
    assert raised.value.code is ErrorCode.API_RATE_LIMIT_EXCEEDED


def test_response_size_is_capped(sample_server):
    with make_client(max_bytes=2048) as client, pytest.raises(TerminalError) as raised:
        client.get(kstartup(sample_server), {"page": 1, "perPage": 100, "serviceKey": "SAMPLE-KEY"}, status_of,
                   what="page 1")
    assert raised.value.code is ErrorCode.INVALID_DATA_FORMAT and "cap" in raised.value.message


def test_keys_never_reach_errors_or_logs(sample_server, caplog):
    sample_server.faults.add(Fault(source="kstartup", kind=FaultKind.HTTP_ERROR, status=502, times=-1))

    def echo_url(response: HttpResponse) -> None:
        raise TerminalError(f"refused {response.location}?serviceKey={SECRET}&raw={normalise_key(SECRET)}")

    caplog.set_level(logging.DEBUG)
    with make_client(attempts=2) as client:
        with pytest.raises(TransientError) as transient:
            client.get(kstartup(sample_server), {"serviceKey": normalise_key(SECRET)}, status_of, what="page 1")
        sample_server.faults.reset()
        with pytest.raises(TerminalError) as terminal:
            client.get(kstartup(sample_server), {"serviceKey": normalise_key(SECRET)}, echo_url, what="page 1")
    everything = str(transient.value) + str(terminal.value) + caplog.text
    for form in (SECRET, normalise_key(SECRET), "sEcReT"):
        assert form not in everything
    assert "***" in str(terminal.value)


def test_encoded_keys_are_decoded_once():
    assert normalise_key("abc%2Bdef%3D%3D") == "abc+def=="
    assert normalise_key("abc+def==") == "abc+def=="
    assert Redactor(["abc%2Bdef%3D%3D"])("u?k=abc%2Bdef%3D%3D and abc+def==") == "u?k=*** and ***"


def test_breaker_opens_after_five_failures_and_half_opens_after_recovery(sample_server):
    clock = FakeClock()
    breaker = CircuitBreaker("kstartup", failure_threshold=5, recovery_seconds=60, clock=clock)
    sample_server.faults.add(Fault(source="kstartup", kind=FaultKind.HTTP_ERROR, status=503, times=-1))
    with make_client(breaker, attempts=3) as client:
        for _ in range(2):  # 3 + 2 attempts: the fifth failure opens it
            with pytest.raises(TransientError):
                client.get(kstartup(sample_server), {}, status_of, what="page 1")
        assert breaker.state is BreakerState.OPEN
        assert sample_server.faults.requests("kstartup") == 5
        with pytest.raises(CircuitOpenError):  # fails fast: nothing sent
            client.get(kstartup(sample_server), {}, status_of, what="page 1")
        assert sample_server.faults.requests("kstartup") == 5

        clock.now += 60
        assert breaker.state is BreakerState.HALF_OPEN
        with pytest.raises(TransientError):  # one trial, it fails, open again
            client.get(kstartup(sample_server), {}, status_of, what="page 1")
        assert sample_server.faults.requests("kstartup") == 6 and breaker.state is BreakerState.OPEN

        clock.now += 60
        sample_server.faults.reset()
        assert client.get(kstartup(sample_server), {}, status_of, what="page 1") == 200
        assert breaker.state is BreakerState.CLOSED and breaker.consecutive_failures == 0


def test_rate_limiter_spaces_requests():
    clock, slept = FakeClock(), []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    limiter = RateLimiter(4.0, clock=clock, sleep=sleep)
    for _ in range(5):
        limiter.acquire()
    assert slept == [0.25, 0.25, 0.25, 0.25]


def test_quota_gate_blocks_until_next_kst_midnight():
    from datetime import datetime, timedelta

    now = [datetime(2025, 3, 3, 22, 30, tzinfo=KST)]
    gate = QuotaGate(clock=lambda: now[0])
    until = gate.block("kstartup")
    assert until == datetime(2025, 3, 4, 0, 0, tzinfo=KST) == next_kst_midnight(now[0])
    assert gate.blocked_until("kstartup") == until and gate.blocked_until("gov24") is None
    now[0] += timedelta(hours=2)
    assert gate.blocked_until("kstartup") is None


def _kstartup_listing(response: HttpResponse):
    from collectors.sources.datagokr import read_listing
    from collectors.sources.envelope import has_any

    return read_listing(response, "kstartup page 1", source="kstartup", key_setting="SOURCE_KSTARTUP_API_KEY",
                        looks_like_item=has_any("pbanc_sn"))


def _open_then_half_open(sample_server, clock: FakeClock) -> tuple[CircuitBreaker, SourceHttpClient]:
    breaker = CircuitBreaker("kstartup", failure_threshold=2, recovery_seconds=60, clock=clock)
    client = make_client(breaker, attempts=1)
    sample_server.faults.add(Fault(source="kstartup", kind=FaultKind.HTTP_ERROR, status=503, times=2))
    for _ in range(2):
        with pytest.raises(TransientError):
            client.get(kstartup(sample_server), {"serviceKey": "SAMPLE-KEY"}, status_of, what="page 1")
    assert breaker.state is BreakerState.OPEN
    clock.now += 60
    assert breaker.state is BreakerState.HALF_OPEN
    return breaker, client


def test_a_half_open_trial_ending_in_a_quota_error_does_not_leave_the_breaker_open(sample_server):
    from collectors.http.quota import QuotaExceededError

    clock = FakeClock()
    breaker, client = _open_then_half_open(sample_server, clock)
    sample_server.faults.add(Fault(source="kstartup", kind=FaultKind.QUOTA, times=1))  # data.go.kr code 22
    with client, pytest.raises(QuotaExceededError):
        client.get(kstartup(sample_server), {"serviceKey": "SAMPLE-KEY"}, _kstartup_listing, what="page 1")
        # the quota answer ends the trial without a verdict: still half-open, and the next call goes out
    assert breaker.state is BreakerState.HALF_OPEN
    sent = sample_server.faults.requests("kstartup")
    with make_client(breaker, attempts=1) as again:
        listing = again.get(kstartup(sample_server), {"serviceKey": "SAMPLE-KEY", "perPage": 5}, _kstartup_listing,
                            what="page 1")
    assert len(listing.items) == 5 and sample_server.faults.requests("kstartup") == sent + 1
    assert breaker.state is BreakerState.CLOSED


def test_a_half_open_trial_ending_in_an_unexpected_exception_opens_it_again_not_for_ever(sample_server):
    clock = FakeClock()
    breaker, client = _open_then_half_open(sample_server, clock)

    def broken(response: HttpResponse):
        raise KeyError("a bug in a parser")

    with client, pytest.raises(KeyError):
        client.get(kstartup(sample_server), {"serviceKey": "SAMPLE-KEY"}, broken, what="page 1")
    assert breaker.state is BreakerState.OPEN                       # a failed trial: open for another period
    clock.now += 60
    with make_client(breaker, attempts=1) as again:
        assert again.get(kstartup(sample_server), {"serviceKey": "SAMPLE-KEY"}, status_of, what="page 1") == 200
    assert breaker.state is BreakerState.CLOSED


def test_a_trial_that_never_ends_is_given_up_after_the_recovery_time():
    clock = FakeClock()
    breaker = CircuitBreaker("x", failure_threshold=1, recovery_seconds=60, clock=clock)
    breaker.record_failure()
    clock.now += 60
    breaker.before_call()                  # the trial goes out, and its thread dies without a verdict
    with pytest.raises(CircuitOpenError):
        breaker.before_call()              # meanwhile no second trial
    clock.now += 60
    breaker.before_call()                  # given up: a new trial may go
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED


def test_guard_gives_exactly_one_verdict():
    breaker = CircuitBreaker("x", failure_threshold=1, recovery_seconds=60, clock=FakeClock())
    with pytest.raises(ValueError), breaker.guard():
        raise ValueError("not ours")
    assert breaker.state is BreakerState.OPEN and breaker.consecutive_failures == 1
    fresh = CircuitBreaker("y", failure_threshold=1, recovery_seconds=60, clock=FakeClock())
    with pytest.raises(KeyboardInterrupt), fresh.guard():
        raise KeyboardInterrupt
    assert fresh.state is BreakerState.CLOSED and fresh.consecutive_failures == 0
