"""The main job (`aegis run`, behind `make run`): stack, schema, connector, then supervised processes.

1. the local stack up (idempotent), migrations, the Debezium connector applied and running;
2. supervised processes: the collector scheduler (first pass at once; it serves the sample sources
   itself when no real API key is configured), one process per sink, the hourly reconciler;
3. every ``progress_every`` seconds a progress block: records collected by status, per sink its
   state, applied LSN and lag, and the reconciler's last result;
4. Ctrl-C / SIGTERM stops the processes cleanly (each sink finishes or abandons its batch and
   commits only what it wrote). The stack keeps running: `make stop` stops it.

Running it again resumes: collectors skip unchanged records (content hash), sinks resume from
their committed offsets, Milvus skips vectors whose content hash and model are unchanged.
"""

from __future__ import annotations

import sys
import time
from typing import Callable

from aegis.db import connect
from aegis.db.migrate import migrate
from aegis.ops.exporter import PipelineExporter
from aegis.ops.ports import collector_metrics_port, exporter_metrics_port, sink_metrics_port
from aegis.settings import Settings
from aegis.stack.manager import StackManager
from aegis.supervisor import ProcessSpec, Supervisor

Report = Callable[[str], None]


def process_specs(settings: Settings, sinks: list[str]) -> list[ProcessSpec]:
    aegis = [sys.executable, "-m", "aegis.cli"]
    specs = [ProcessSpec("collector", [*aegis, "collect", "--schedule", "--quiet", "--metrics-port",
                                       str(collector_metrics_port(settings, sinks))])]
    specs += [ProcessSpec(f"sink-{name}", [*aegis, "sinks", "run", name, "--metrics-port",
                                           str(sink_metrics_port(settings, name, sinks))]) for name in sinks]
    specs.append(ProcessSpec("reconciler", [*aegis, "reconcile", "--schedule"]))
    return specs


def prepare(settings: Settings, report: Report) -> None:
    """Stack up, schema migrated, connector applied and running."""
    from connectors.manage import apply_connector, wait_until_running

    StackManager(settings).up(progress=report)
    with connect(settings.postgres, autocommit=True) as conn:
        applied = migrate(conn, settings.postgres)
    report(f"schema: {len(applied)} migration(s) applied" if applied else "schema: up to date")
    result = apply_connector(settings)
    report(f"connector {result.name}: {result.outcome.value}")
    wait_until_running(settings, timeout=120)
    report(f"connector {result.name}: running")


def progress_lines(settings: Settings, sinks: list[str]) -> list[str]:
    from aegis.ops.status import gather

    status = gather(settings, sinks)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(status.policies_by_status.items())) or "none yet"
    lines = [f"policies: {counts}"]
    for s in status.sinks:
        lines.append(f"  {s.name:<8} {s.state:<20} records {s.target_count if s.target_count is not None else '?':>6}"
                     f"  lag {s.lag_events if s.lag_events is not None else '?'} events"
                     f" / {s.lag_seconds or 0:.1f}s  lsn {s.last_applied_lsn or '-'}")
    if status.last_reconcile:
        r = status.last_reconcile
        lines.append(f"  reconcile at {r.checked_at:%H:%M:%S}: "
                     f"{'consistent' if r.is_consistent else 'drift found'} {r.summary}")
    return lines


def run_main_job(settings: Settings, sinks: list[str], *, report: Report = print, progress_every: float = 15.0,
                 duration: float | None = None) -> None:
    prepare(settings, report)
    exporter_port = exporter_metrics_port(settings, sinks)
    stop_exporter = PipelineExporter(settings).serve(exporter_port, host=settings.sinks.metrics_host)
    report(f"pipeline metrics on http://{settings.sinks.metrics_host}:{exporter_port}/metrics")
    supervisor = Supervisor(process_specs(settings, sinks), settings.stack.state_path / "logs" / "main-job", report)
    started = time.monotonic()
    last = [0.0]

    def tick() -> None:
        if time.monotonic() - last[0] >= progress_every:
            last[0] = time.monotonic()
            try:
                for line in progress_lines(settings, sinks):
                    report(line)
            except Exception as exc:  # noqa: BLE001 - progress is best effort, the job goes on
                report(f"(progress unavailable: {exc})")

    report(f"main job running: collector, {', '.join('sink-' + s for s in sinks)}, reconciler "
           f"(logs in {supervisor.log_dir}); Ctrl-C stops")
    try:
        supervisor.run(tick=tick, should_stop=lambda: duration is not None and time.monotonic() - started >= duration)
    finally:
        stop_exporter.set()
