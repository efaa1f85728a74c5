"""Make sure a sample server answers at ``SOURCE_SAMPLES_URL`` when some source needs it."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from aegis.errors import ConfigError
from collectors.samples.server import SampleServer


def sample_server_answers(url: str) -> bool:
    try:
        return httpx.get(url.rstrip("/") + "/robots.txt", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def ensure_sample_server(url: str) -> SampleServer | None:
    """Start one in this process on ``url``'s host and port unless one already answers there.

    Returns the started server (stop it when done) or None if one was already running.
    """
    if sample_server_answers(url):
        return None
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError(f"no sample server answers at {url}",
                          hint="start it with `aegis sources serve-samples`, or configure the sources' API keys")
    try:
        return SampleServer(parts.hostname, parts.port or 80).start()
    except OSError as exc:
        raise ConfigError(f"cannot start the sample server on {parts.hostname}:{parts.port}: {exc}",
                          hint="free the port or set SOURCE_SAMPLES_URL to another one") from None
