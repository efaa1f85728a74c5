"""Where each supervised process of the main job serves /metrics and /health.

From ``METRICS_PORT``: the sinks' members (``SINKS_MEMBERS`` consecutive ports per sink, in the
order of ``sinks``), then the collector, the reconciler and the pipeline exporter.
"""

from __future__ import annotations

from aegis.settings import Settings


def sink_metrics_ports(settings: Settings, sink: str, sinks: list[str]) -> list[int]:
    """One port per member of ``sink``."""
    members = settings.sinks.members
    first = settings.service.metrics_port + sinks.index(sink) * members
    return list(range(first, first + members))


def _after_sinks(settings: Settings, sinks: list[str]) -> int:
    return settings.service.metrics_port + len(sinks) * settings.sinks.members


def collector_metrics_port(settings: Settings, sinks: list[str]) -> int:
    return _after_sinks(settings, sinks)


def reconciler_metrics_port(settings: Settings, sinks: list[str]) -> int:
    return _after_sinks(settings, sinks) + 1


def exporter_metrics_port(settings: Settings, sinks: list[str]) -> int:
    return _after_sinks(settings, sinks) + 2
