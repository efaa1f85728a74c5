"""Sinks by name, for ``aegis sinks run NAME`` and the conformance suite.

A new target adds one line: ``"name": "package.module:build_function"``, where the function
takes the ``Settings`` tree and returns a ``Sink``. Imports are lazy, so a missing optional
driver only matters for the sink that needs it.
"""

from __future__ import annotations

from importlib import import_module
from typing import Callable

from aegis.errors import ConfigError
from aegis.settings import Settings
from cdc_sinks.base import Sink

SINKS: dict[str, str] = {
    "search": "cdc_sinks.search.sink:build_search_sink",
    "redis": "cdc_sinks.redis_cache:build_redis_sink",
    "milvus": "cdc_sinks.milvus.sink:build_milvus_sink",
    "neo4j": "cdc_sinks.neo4j_graph.sink:build_neo4j_sink",
}


def sink_names() -> list[str]:
    return sorted(SINKS)


def build_sink(name: str, settings: Settings) -> Sink:
    """The sink called ``name``, configured from ``settings``; ``ConfigError`` for an unknown name."""
    target = SINKS.get(name)
    if target is None:
        raise ConfigError(f"unknown sink {name!r}", hint=f"known sinks: {', '.join(sink_names())}")
    module_name, _, attr = target.partition(":")
    factory: Callable[[Settings], Sink] = getattr(import_module(module_name), attr)
    return factory(settings)
