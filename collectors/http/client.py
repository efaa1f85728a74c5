"""``SourceHttpClient``: one per source, wrapping httpx with everything a polite collector needs.

Every attempt goes through the source's circuit breaker and rate limiter, has the source's
timeout, and reads at most ``max_bytes`` of body. Transient failures (timeouts, connection
errors, cut-off bodies, 5xx, 429, and whatever the source's ``interpret`` callback calls
transient) are retried with ``aegis.retry`` (exponential backoff, full jitter, bounded).
Secrets (API keys) never appear in an error or a log line: URLs are reported without their
query, and every message is passed through ``redact``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus, unquote, urlsplit

import httpx

from aegis.errors import AegisError, ErrorCode, TerminalError, TransientError
from aegis.retry import RetryPolicy, retry_call
from collectors.http.breaker import CircuitBreaker
from collectors.http.quota import QuotaExceededError
from collectors.http.ratelimit import RateLimiter
from collectors.identity import USER_AGENT

log = logging.getLogger(__name__)
T = TypeVar("T")
_ENCODED = re.compile(r"%[0-9A-Fa-f]{2}")
_TOO_LARGE_HINT = "ask for smaller pages (SOURCE_<NAME>_PAGE_SIZE) or raise SOURCE_MAX_RESPONSE_BYTES"


def normalise_key(key: str) -> str:
    """data.go.kr hands out keys URL-encoded and decoded; send the decoded form (httpx encodes it once)."""
    return unquote(key) if _ENCODED.search(key) else key


@dataclass(frozen=True)
class HttpResponse:
    """What a source gets back: status, headers and the (size-capped) body."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes
    location: str  # scheme://host/path, never the query (it may hold a key)
    elapsed_seconds: float = 0.0


class _HttpxRedactingFilter(logging.Filter):
    """httpx logs every request URL (query and key included) at INFO: redact every known secret."""

    def __init__(self) -> None:
        super().__init__()
        self.redactors: list[Redactor] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if self.redactors:
            message = record.getMessage()
            for redactor in list(self.redactors):
                message = redactor(message)
            record.msg, record.args = message, None
        return True


_HTTPX_FILTER = _HttpxRedactingFilter()
logging.getLogger("httpx").addFilter(_HTTPX_FILTER)


class Redactor:
    """Replaces every configured secret (raw, decoded and URL-encoded forms) with ``***``."""

    def __init__(self, secrets: Iterable[str | None] = ()):
        forms: set[str] = set()
        for secret in secrets:
            if secret:
                decoded = normalise_key(secret)
                forms.update({secret, decoded, quote(decoded, safe=""), quote_plus(decoded)})
        self._forms = sorted((f for f in forms if len(f) >= 4), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, "***")
        return text


@dataclass
class ClientPolicy:
    """The knobs of one source's client."""

    timeout_seconds: float
    requests_per_second: float
    max_bytes: int
    retry: RetryPolicy = field(default_factory=RetryPolicy)


class SourceHttpClient:
    """GET with timeout, rate limit, circuit breaker, size cap and bounded retries."""

    def __init__(self, source: str, policy: ClientPolicy, breaker: CircuitBreaker, *,
                 secrets: Iterable[str | None] = (), transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.source = source
        self.policy = policy
        self.breaker = breaker
        self.limiter = RateLimiter(policy.requests_per_second, sleep=sleep)
        self.redact = Redactor(secrets)
        _HTTPX_FILTER.redactors.append(self.redact)
        self._sleep = sleep
        self.requests_sent = 0
        self._http = httpx.Client(timeout=httpx.Timeout(policy.timeout_seconds), transport=transport,
                                  headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
                                  follow_redirects=True, max_redirects=3)

    def close(self) -> None:
        self._http.close()
        if self.redact in _HTTPX_FILTER.redactors:
            _HTTPX_FILTER.redactors.remove(self.redact)

    def __enter__(self) -> SourceHttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, params: Mapping[str, Any], interpret: Callable[[HttpResponse], T],
            *, what: str) -> T:
        """GET ``url`` and hand the response to ``interpret`` (which may raise), with retries."""
        described = f"{self.source} {what}"
        return retry_call(lambda: self._attempt(url, params, interpret, described), self.policy.retry,
                          what=described, sleep=self._sleep)

    def _attempt(self, url: str, params: Mapping[str, Any], interpret: Callable[[HttpResponse], T],
                 what: str) -> T:
        # The guard gives the breaker one verdict per call whatever happens: a quota answer is
        # not the source being broken (the quota gate takes over), so it ends a trial neutrally.
        with self.breaker.guard(neutral=(QuotaExceededError,)):
            self.limiter.acquire()
            try:
                response = self._fetch(url, params, what)
                return interpret(response)
            except QuotaExceededError:
                raise
            except AegisError as exc:
                exc.message = self.redact(exc.message)
                log.warning("source request failed", extra={"source": self.source, "code": exc.code.value,
                                                             "error": exc.message,
                                                             "breaker_failures": self.breaker.consecutive_failures + 1})
                raise

    def _fetch(self, url: str, params: Mapping[str, Any], what: str) -> HttpResponse:
        location = _without_query(url)
        started = time.monotonic()
        self.requests_sent += 1
        try:
            with self._http.stream("GET", url, params=dict(params)) as response:
                body = self._read_capped(response, what)
                status, headers = response.status_code, dict(response.headers)
        except httpx.TimeoutException:
            raise TransientError(f"{what}: no answer from {location} within {self.policy.timeout_seconds:g}s",
                                 code=ErrorCode.DATA_SOURCE_UNAVAILABLE,
                                 hint="the source is slow or down; it is retried with backoff") from None
        except httpx.TransportError as exc:
            detail = self.redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            raise TransientError(f"{what}: {type(exc).__name__} talking to {location}: {detail}",
                                 code=ErrorCode.DATA_SOURCE_UNAVAILABLE,
                                 hint="network trouble or a cut-off response; it is retried with backoff") from None
        elapsed = time.monotonic() - started
        if status == 429:
            raise TransientError(f"{what}: HTTP 429 (throttled) from {location}",
                                 code=ErrorCode.API_RATE_LIMIT_EXCEEDED,
                                 hint="the source throttles bursts; lower SOURCE_<NAME>_REQUESTS_PER_SECOND")
        if status >= 500:
            raise TransientError(f"{what}: HTTP {status} from {location}", code=ErrorCode.DATA_SOURCE_UNAVAILABLE,
                                 hint="the source has a server error; it is retried with backoff")
        return HttpResponse(status, headers, body, location, elapsed)

    def _read_capped(self, response: httpx.Response, what: str) -> bytes:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.policy.max_bytes:
            raise TerminalError(f"{what}: response of {int(declared):,} bytes exceeds the cap of "
                                f"{self.policy.max_bytes:,}", code=ErrorCode.INVALID_DATA_FORMAT,
                                hint=_TOO_LARGE_HINT)
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.policy.max_bytes:
                raise TerminalError(f"{what}: response exceeds the cap of {self.policy.max_bytes:,} bytes",
                                    code=ErrorCode.INVALID_DATA_FORMAT,
                                    hint=_TOO_LARGE_HINT)
            chunks.append(chunk)
        return b"".join(chunks)


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
