"""Running one sink as a process: the runtime, its /metrics + /health server, and signals.

SIGTERM or SIGINT asks the runtime to stop: the batch in hand is finished (or, while the target
is down, abandoned uncommitted) and the consumer closes, committing only what was written.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from aegis.health_server import publish_service_info
from aegis.settings import Settings
from cdc_sinks.observability import HealthState, ObservabilityServer, SinkMetrics
from cdc_sinks.registry import build_sink, spec_of
from cdc_sinks.runtime import SinkRuntime

log = logging.getLogger(__name__)

AUTOGROUP = Path("/proc/self/autogroup")
YOUNG_COLLECTION_EVERY = 10_000
"""Allocations between two collections of the garbage collector's youngest generation (Python: 700)."""


def relax_garbage_collector() -> None:
    """Collect the youngest generation every ``YOUNG_COLLECTION_EVERY`` allocations, not every 700.

    Decoding one change allocates dozens of objects that die with its batch, so at Python's default
    the collector ran every few changes and its older generations' passes often: replayed through
    one sink, 700 → 10,000 took about a tenth off the sink's CPU per change (bench/RESULTS.md). What the
    collector holds back is a few thousand short-lived objects.
    """
    gc.set_threshold(YOUNG_COLLECTION_EVERY, *gc.get_threshold()[1:])


def lower_priority(name: str, settings: Settings) -> int:
    """Renice this process as the sink's spec says (the Milvus sink: ``EMBEDDING_NICE``); the niceness added.

    With Linux's autogroup scheduling (``kernel.sched_autogroup_enabled``, on by default) CPU is
    shared fairly between sessions first, and a process's nice only ranks it inside its own
    session: the main job starts each sink and each server in a session of its own, so a reniced
    Milvus sink would still take an equal share beside every server. A process leading its session
    therefore lowers its session's autogroup too (``/proc/self/autogroup``); one started from a
    shell does not, since that would slow the shell's other programs.
    """
    spec = spec_of(name)
    step = spec.nice(settings) if spec.nice else 0
    if step:
        nice = os.nice(step)  # the new niceness
        log.info("process priority lowered", extra={"sink": name, "nice": nice, "autogroup": lower_autogroup(nice)})
    return step


def lower_autogroup(nice: int, autogroup: Path = AUTOGROUP) -> str:
    """Give this session's autogroup ``nice`` if this process leads the session; what was done."""
    if os.getsid(0) != os.getpid():
        return "shared session: left alone"
    try:
        autogroup.write_text(str(nice))
        return autogroup.read_text().strip()
    except OSError as exc:  # no autogroup in this kernel or container, or not permitted: nice alone
        return f"not changed ({exc.strerror or exc})"


def run_sink(name: str, settings: Settings, *, metrics_port: int | None = None,
             announce: Callable[[str], None] = lambda _: None) -> SinkRuntime:
    """Run sink ``name`` until SIGTERM/SIGINT; returns the stopped runtime (for its stats)."""
    sink = build_sink(name, settings)
    lower_priority(name, settings)
    relax_garbage_collector()
    metrics, health = SinkMetrics(sink.name), HealthState()
    publish_service_info(metrics.registry, settings.service)
    runtime = SinkRuntime(sink, settings, metrics=metrics, health=health)
    port = settings.service.metrics_port if metrics_port is None else metrics_port
    server = ObservabilityServer(metrics, health, settings.service.metrics_host, port).start()
    announce(f"sink {name}: consuming {runtime.topic} as group {runtime.group_id}; "
             f"metrics and health on http://{settings.service.metrics_host}:{server.port}")

    def request_stop(signum: int, _frame) -> None:
        log.info("stop requested by signal %s", signal.Signals(signum).name, extra={"sink": name})
        runtime.stop()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
    try:
        runtime.run()
    finally:
        health.alive = False
        server.stop()
        sink.close()
    return runtime
