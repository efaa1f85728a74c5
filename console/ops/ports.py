"""Where each supervised process of the main job serves /metrics and /health."""

from __future__ import annotations

from aegis.settings import Settings


def sink_metrics_port(settings: Settings, sink: str, sinks: list[str]) -> int:
    """Sinks take consecutive ports from ``METRICS_PORT`` in the order of ``sinks``."""
    return settings.service.metrics_port + sinks.index(sink)


def collector_metrics_port(settings: Settings, sinks: list[str]) -> int:
    return settings.service.metrics_port + len(sinks)


def reconciler_metrics_port(settings: Settings, sinks: list[str]) -> int:
    return settings.service.metrics_port + len(sinks) + 1


def exporter_metrics_port(settings: Settings, sinks: list[str]) -> int:
    return settings.service.metrics_port + len(sinks) + 2
