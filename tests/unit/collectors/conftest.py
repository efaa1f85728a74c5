"""A sample server per test module (real HTTP on a free loopback port, no mocks)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from collectors.samples.server import SampleServer

# Property-based tests (hypothesis): bounded in the unit suite; HYPOTHESIS_PROFILE=collectors-deep for more.
_COMMON = dict(deadline=None, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
settings.register_profile("collectors-unit", max_examples=40, **_COMMON)
settings.register_profile("collectors-deep", max_examples=2000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "collectors-unit"))


@pytest.fixture
def sample_server():
    with SampleServer() as server:
        yield server


@pytest.fixture
def sample_settings(sample_server):
    """Settings whose sources all point at ``sample_server``, with fast retries."""
    from aegis.settings import load_settings

    settings = load_settings(env_file=None)
    sources = settings.sources.model_copy(update={
        "samples_url": sample_server.url, "retry_base_delay_seconds": 0.0, "retry_max_delay_seconds": 0.0,
        "board_requests_per_second": 50.0})
    apis = {name: api.model_copy(update={"requests_per_second": 500.0}) for name, api in settings.source_apis.items()
            if name != "portal"}
    return settings.model_copy(update={"sources": sources, "source_apis": {**settings.source_apis, **apis}})
