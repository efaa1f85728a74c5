"""Every sink, by name: the one list (``SPECS``) the runtime, CLI, reconciler, tests and benches read.

A new target is a folder ``cdc_sinks/<name>/`` (``sink.py``, ``errors.py``, ``spec.py``) and one
line below.
"""

from __future__ import annotations

from aegis.errors import ConfigError
from aegis.settings import Settings
from cdc_sinks.base import Sink
from cdc_sinks.milvus.spec import SPEC as MILVUS
from cdc_sinks.neo4j.spec import SPEC as NEO4J
from cdc_sinks.redis.spec import SPEC as REDIS
from cdc_sinks.search.spec import SPEC as SEARCH
from cdc_sinks.spec import SinkSpec

SPECS: dict[str, SinkSpec] = {spec.name: spec for spec in (MILVUS, NEO4J, REDIS, SEARCH)}


def sink_names() -> list[str]:
    return sorted(SPECS)


def spec_of(name: str) -> SinkSpec:
    """The spec of sink ``name``; ``ConfigError`` for an unknown name."""
    spec = SPECS.get(name)
    if spec is None:
        raise ConfigError(f"unknown sink {name!r}", hint=f"known sinks: {', '.join(sink_names())}")
    return spec


def build_sink(name: str, settings: Settings) -> Sink:
    """The sink called ``name``, configured from ``settings``; ``ConfigError`` for an unknown name."""
    return spec_of(name).build(settings)


def micro_batch(name: str, settings: Settings) -> int:
    """Most change events one batch of sink ``name`` holds (``SINKS_BATCH_SIZE`` for an unlisted sink)."""
    spec = SPECS.get(name)
    return spec.micro_batch(settings) if spec else settings.sinks.batch_size
