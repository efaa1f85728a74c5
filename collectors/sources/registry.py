"""Which sources exist, and how each is built from settings.

Endpoint rule: ``SOURCE_<NAME>_BASE_URL`` wins; otherwise a source with an API key goes to
its live address; otherwise it is collected from the local sample server
(``SOURCE_SAMPLES_URL``) with a sample key. Boards come from their YAML files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import httpx

from aegis.errors import ConfigError
from aegis.retry import RetryPolicy
from aegis.settings import Settings, SourceEndpoint
from collectors.http.breaker import CircuitBreaker
from collectors.http.client import ClientPolicy, SourceHttpClient
from collectors.http.quota import QuotaGate
from collectors.sources import bizinfo, gov24, korea_rss, kstartup, youthcenter
from collectors.sources.base import ApiSource, Endpoint, Source
from collectors.sources.boards import BoardSource, CrawlPolicy
from collectors.spider.config import BoardConfig, load_boards

SAMPLE_KEY = "SAMPLE-KEY"  # what the sample server accepts


@dataclass(frozen=True)
class ApiSourceSpec:
    name: str
    source_class: type[ApiSource]
    live_url: str
    needs_key: bool = True


API_SOURCES: dict[str, ApiSourceSpec] = {
    spec.name: spec for spec in (
        ApiSourceSpec("bizinfo", bizinfo.BizinfoSource, bizinfo.LIVE_URL),
        ApiSourceSpec("kstartup", kstartup.KStartupSource, kstartup.LIVE_URL),
        ApiSourceSpec("youthcenter", youthcenter.YouthCenterSource, youthcenter.LIVE_URL),
        ApiSourceSpec("gov24", gov24.Gov24Source, gov24.LIVE_URL),
        ApiSourceSpec("korea_rss", korea_rss.KoreaRssSource, korea_rss.LIVE_URL, needs_key=False),
    )
}


@dataclass
class CollectorState:
    """What outlives one pass: circuit breakers and quota windows, per source."""

    breaker_threshold: int = 5
    breaker_recovery_seconds: float = 60.0
    quota: QuotaGate = field(default_factory=QuotaGate)
    breaker_clock: Callable[[], float] | None = None
    _breakers: dict[str, CircuitBreaker] = field(default_factory=dict)

    def breaker(self, source: str) -> CircuitBreaker:
        if source not in self._breakers:
            kwargs = {"clock": self.breaker_clock} if self.breaker_clock else {}
            self._breakers[source] = CircuitBreaker(source, self.breaker_threshold,
                                                    self.breaker_recovery_seconds, **kwargs)
        return self._breakers[source]

    @classmethod
    def from_settings(cls, settings: Settings) -> CollectorState:
        return cls(breaker_threshold=settings.sources.breaker_failure_threshold,
                   breaker_recovery_seconds=settings.sources.breaker_recovery_seconds)


def resolve_endpoint(spec: ApiSourceSpec, configured: SourceEndpoint, settings: Settings) -> Endpoint:
    key = configured.api_key.get_secret_value() if configured.api_key else None
    if configured.base_url:
        base, samples = configured.base_url, False
    elif key and spec.needs_key:
        base, samples = spec.live_url, False
    else:
        base, samples = settings.sources.samples_url, True
    if samples and key is None:
        key = SAMPLE_KEY
    return Endpoint(base_url=base.rstrip("/"), api_key=key, using_samples=samples,
                    page_size=configured.page_size, max_pages=settings.sources.max_pages)


def all_source_names(settings: Settings) -> list[str]:
    return list(API_SOURCES) + [b.source_system for b in boards(settings)]


def boards(settings: Settings) -> list[BoardConfig]:
    return load_boards(settings.sources.samples_url, settings.sources.boards_dir)


def build_sources(settings: Settings, state: CollectorState, names: list[str] | None = None,
                  transport: httpx.BaseTransport | None = None) -> list[Source]:
    """The selected sources (all when ``names`` is empty), ready to collect."""
    known_boards = {b.source_system: b for b in boards(settings)}
    wanted = list(names) if names else list(API_SOURCES) + list(known_boards)
    unknown = [n for n in wanted if n not in API_SOURCES and n not in known_boards and f"board:{n}" not in known_boards]
    if unknown:
        raise ConfigError(f"unknown source(s): {', '.join(unknown)}",
                          hint=f"known sources: {', '.join(list(API_SOURCES) + list(known_boards))}")
    sources: list[Source] = []
    for name in wanted:
        if name in API_SOURCES:
            sources.append(_api_source(API_SOURCES[name], settings, state, transport))
        else:
            board = known_boards.get(name) or known_boards[f"board:{name}"]
            source = BoardSource(board, _crawl_policy(settings), state.breaker(board.source_system))
            source.using_samples = board.start_url.startswith(settings.sources.samples_url.rstrip("/") + "/")
            sources.append(source)
    return sources


def _api_source(spec: ApiSourceSpec, settings: Settings, state: CollectorState,
                transport: httpx.BaseTransport | None) -> ApiSource:
    configured = settings.sources.endpoint(spec.name)
    endpoint = resolve_endpoint(spec, configured, settings)
    src = settings.sources
    policy = ClientPolicy(timeout_seconds=configured.timeout_seconds,
                          requests_per_second=configured.requests_per_second,
                          max_bytes=src.max_response_bytes,
                          retry=RetryPolicy(attempts=src.retry_attempts, base_delay=src.retry_base_delay_seconds,
                                            max_delay=src.retry_max_delay_seconds))
    client = SourceHttpClient(spec.name, policy, state.breaker(spec.name), secrets=[endpoint.api_key],
                              transport=transport)
    if spec.source_class is korea_rss.KoreaRssSource:
        return korea_rss.KoreaRssSource(endpoint, client, settings.sources.feeds)
    return spec.source_class(endpoint, client)


def _crawl_policy(settings: Settings) -> CrawlPolicy:
    src = settings.sources
    return CrawlPolicy(requests_per_second=src.board_requests_per_second, timeout_seconds=src.board_timeout_seconds,
                       retries=max(0, src.retry_attempts - 1), max_bytes=src.max_response_bytes,
                       page_size=100)
