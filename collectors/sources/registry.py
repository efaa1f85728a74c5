"""Which sources exist, and how each is built from settings.

Endpoint rule: ``SOURCE_<NAME>_BASE_URL`` wins; otherwise a source with an API key goes to
its live address; otherwise it is collected from the local sample server
(``SOURCE_SAMPLES_URL``) with a sample key. Boards come from their YAML files, configured
data.go.kr APIs (``portal:<name>``) from theirs (the same rule, with ``SOURCE_PORTAL_*``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from aegis.errors import ConfigError
from aegis.retry import RetryPolicy
from aegis.settings import Settings, SourceEndpoint
from collectors.http.breaker import CircuitBreaker
from collectors.http.client import ClientPolicy, SourceHttpClient
from collectors.http.quota import QuotaGate
from collectors.sources import bizinfo, gov24, korea_rss, kstartup, youthcenter
from collectors.sources.base import ApiSource, Endpoint, Source, SourceKind
from collectors.sources.boards import BoardSource, CrawlPolicy
from collectors.sources.portal import PortalSource
from collectors.sources.portal_config import PortalApi, load_apis
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
    return [*API_SOURCES, *(a.source_system for a in portal_apis(settings)),
            *(b.source_system for b in boards(settings))]


def boards(settings: Settings) -> list[BoardConfig]:
    return load_boards(settings.sources.samples_url, settings.sources.boards_dir)


def portal_apis(settings: Settings) -> list[PortalApi]:
    return load_apis(settings.sources.portal_dir)


def resolve_portal_endpoint(api: PortalApi, settings: Settings) -> Endpoint:
    """Where a configured data.go.kr API is read: SOURCE_PORTAL_BASE_URL, else its own host with a
    key, else the sample server (same path, sample key)."""
    src, portal = settings.sources, settings.source_apis["portal"]
    key = portal.api_key.get_secret_value() if portal.api_key else None
    if portal.base_url:
        base, samples = portal.base_url, False
    elif key:
        base, samples = api.live_base, False
    else:
        base, samples, key = src.samples_url, True, SAMPLE_KEY
    return Endpoint(base_url=base.rstrip("/"), api_key=key, using_samples=samples,
                    page_size=api.paging.page_size or portal.page_size, max_pages=src.max_pages)


def build_sources(settings: Settings, state: CollectorState, names: list[str] | None = None,
                  transport: httpx.BaseTransport | None = None) -> list[Source]:
    """The selected sources (all when ``names`` is empty), ready to collect."""
    known_boards = {b.source_system: b for b in boards(settings)}
    known_apis = {a.source_system: a for a in portal_apis(settings)}
    everything = list(API_SOURCES) + list(known_apis) + list(known_boards)
    wanted = list(names) if names else everything
    unknown = [n for n in wanted if n not in everything and f"board:{n}" not in known_boards
               and f"portal:{n}" not in known_apis]
    if unknown:
        raise ConfigError(f"unknown source(s): {', '.join(unknown)}", hint=f"known sources: {', '.join(everything)}")
    sources: list[Source] = []
    for name in wanted:
        if name in API_SOURCES:
            sources.append(_api_source(API_SOURCES[name], settings, state, transport))
        elif name in known_apis or f"portal:{name}" in known_apis:
            sources.append(_portal_source(known_apis.get(name) or known_apis[f"portal:{name}"], settings, state,
                                          transport))
        else:
            board = known_boards.get(name) or known_boards[f"board:{name}"]
            source = BoardSource(board, _crawl_policy(settings), state.breaker(board.source_system))
            source.using_samples = board.start_url.startswith(settings.sources.samples_url.rstrip("/") + "/")
            sources.append(source)
    return sources


def _api_source(spec: ApiSourceSpec, settings: Settings, state: CollectorState,
                transport: httpx.BaseTransport | None) -> ApiSource:
    configured = settings.source_apis[spec.name]
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


def _portal_source(api: PortalApi, settings: Settings, state: CollectorState,
                   transport: httpx.BaseTransport | None) -> PortalSource:
    endpoint = resolve_portal_endpoint(api, settings)
    src, portal = settings.sources, settings.source_apis["portal"]
    policy = ClientPolicy(timeout_seconds=api.timeout_seconds or portal.timeout_seconds,
                          requests_per_second=api.requests_per_second or portal.requests_per_second,
                          max_bytes=src.max_response_bytes,
                          retry=RetryPolicy(attempts=src.retry_attempts, base_delay=src.retry_base_delay_seconds,
                                            max_delay=src.retry_max_delay_seconds))
    client = SourceHttpClient(api.source_system, policy, state.breaker(api.source_system),
                              secrets=[endpoint.api_key], transport=transport)
    return PortalSource(api, endpoint, client)


def samples_refused(settings: Settings, allow_samples: bool = False) -> bool:
    """True when sources that resolve to the bundled sample server must not be collected:
    ENVIRONMENT=production, unless SOURCE_ALLOW_SAMPLES_IN_PRODUCTION or ``allow_samples``."""
    return settings.service.is_production and not (allow_samples or settings.sources.allow_samples_in_production)


def samples_refused_error(source: Source) -> ConfigError:
    """DP_5001 for a sample source in production, with the next step for its kind."""
    if source.kind is SourceKind.BOARD:
        fix = ("point the board at its real site, or switch it off with a file named like it and `enabled: false` "
               "in SOURCE_BOARDS_DIR")
    elif source.name.startswith("portal:"):
        fix = "set SOURCE_PORTAL_API_KEY (or SOURCE_PORTAL_BASE_URL)"
    else:
        setting = source.name.upper()
        fix = f"set SOURCE_{setting}_API_KEY (or SOURCE_{setting}_BASE_URL)"
    return ConfigError(f"{source.name}: refusing to collect the bundled sample data into the database "
                       "with ENVIRONMENT=production",
                       hint=f"{fix}; or collect sample data on purpose with `aegis collect --allow-samples` "
                            "or SOURCE_ALLOW_SAMPLES_IN_PRODUCTION=true")


def _crawl_policy(settings: Settings) -> CrawlPolicy:
    src = settings.sources
    return CrawlPolicy(requests_per_second=src.board_requests_per_second, timeout_seconds=src.board_timeout_seconds,
                       retries=max(0, src.retry_attempts - 1), max_bytes=src.max_response_bytes,
                       page_size=100)
