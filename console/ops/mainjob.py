"""The main job (`aegis run`, behind `make run`): stack, schema, connector, then supervised processes.

1. the local stack up (idempotent), migrations, the Debezium connector applied and running;
2. the first collection pass, in the foreground (it serves the sample sources itself when no real
   API key is configured), so that the reconciler's first pass, which runs as soon as it starts,
   finds every record it collected and promotes those that pass the quality check: a new user
   sees them in the targets within minutes, not after RECONCILE_INTERVAL;
3. supervised processes: the collector scheduler (its first pass at the next interval), one
   process per sink, the hourly reconciler. Each serves /metrics, and so does the job itself (the
   pipeline exporter and the connector watchdog); their addresses are registered for the local
   stack's Prometheus (``devstack.prometheus``: `aegis stack up prometheus`, or AEGIS_STACK_PROMETHEUS);
4. every ``progress_every`` seconds a progress block: records collected by status, per sink its
   state, applied LSN and lag, and the reconciler's last result; failed connector tasks are
   restarted with backoff (``connectors.watchdog``: Kafka Connect never restarts them itself);
5. Ctrl-C / SIGTERM stops the processes cleanly (each sink finishes or abandons its batch and
   commits only what it wrote). The stack keeps running: `make stop` stops it.

Running it again resumes: collectors skip unchanged records (content hash), sinks resume from
their committed offsets, Milvus skips vectors whose content hash and model are unchanged.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from aegis.db import connect
from aegis.db.migrate import migrate
from aegis.errors import ConfigError
from aegis.settings import Settings
from connectors.watchdog import ConnectorWatchdog, WatchdogMetrics
from console.ops.exporter import PipelineExporter
from console.ops.ports import collector_metrics_port, exporter_metrics_port, reconciler_metrics_port, sink_metrics_ports
from console.supervisor import ProcessSpec, Supervisor
from devstack.base import port_open
from devstack.manager import StackManager
from devstack.prometheus import write_scrape_targets

Report = Callable[[str], None]
AEGIS = [sys.executable, "-m", "console.cli"]


def process_specs(settings: Settings, sinks: list[str]) -> list[ProcessSpec]:
    # --no-run-now: the first pass ran in the foreground (first_collection)
    specs = [ProcessSpec("collector", [*AEGIS, "collect", "--schedule", "--no-run-now", "--quiet",
                                       "--metrics-port", str(collector_metrics_port(settings, sinks))])]
    specs += [ProcessSpec(member_name(name, index), [*AEGIS, "sinks", "run", name, "--metrics-port", str(port)])
              for name in sinks for index, port in enumerate(sink_metrics_ports(settings, name, sinks))]
    specs.append(ProcessSpec("reconciler", [*AEGIS, "reconcile", "--schedule", "--metrics-port",
                                            str(reconciler_metrics_port(settings, sinks))]))
    return specs


def member_name(sink: str, index: int) -> str:
    """``sink-NAME`` (its log file), ``sink-NAME-2``… for the further members of SINKS_MEMBERS."""
    return f"sink-{sink}" if index == 0 else f"sink-{sink}-{index + 1}"


def check_ports_free(settings: Settings, sinks: list[str]) -> None:
    """The /metrics ports of the sinks, the collector, the reconciler and the exporter must be free:
    a process already serving there would make `aegis status` read its figures instead of ours."""
    host = settings.service.metrics_host
    ports = [*(port for name in sinks for port in sink_metrics_ports(settings, name, sinks)),
             collector_metrics_port(settings, sinks),
             reconciler_metrics_port(settings, sinks), exporter_metrics_port(settings, sinks)]
    busy = [port for port in ports if port_open(port, host)]
    if busy:
        raise ConfigError(f"metrics port(s) {', '.join(map(str, busy))} on {host} are in use "
                          "(another `aegis run` or `aegis sinks run`?)",
                          hint=f"stop that process, or set METRICS_PORT to the first of "
                               f"{ports[-1] - settings.service.metrics_port + 1} free consecutive ports")


def register_scrape_targets(settings: Settings, sinks: list[str]) -> None:
    """Tell the local stack's Prometheus (if it runs, or once it does) where every process serves /metrics."""
    host = settings.service.metrics_host if settings.service.metrics_host not in ("0.0.0.0", "::") else "127.0.0.1"

    def at(port: int) -> list[str]:
        return [f"{host}:{port}"]

    write_scrape_targets(settings, {
        "aegis-sinks": [f"{host}:{port}" for name in sinks for port in sink_metrics_ports(settings, name, sinks)],
        "aegis-collector": at(collector_metrics_port(settings, sinks)),
        "aegis-reconciler": at(reconciler_metrics_port(settings, sinks)),
        "aegis-pipeline": at(exporter_metrics_port(settings, sinks)),  # the exporter and the connector watchdog
    })


def prepare(settings: Settings, report: Report) -> None:
    """Stack up, schema migrated, connector applied and running."""
    from connectors.manage import apply_connector, wait_until_running

    StackManager(settings).up(progress=report)
    with connect(settings.postgres, autocommit=True, role="owner") as conn:
        applied = migrate(conn, settings.postgres)
    report(f"schema: {len(applied)} migration(s) applied" if applied else "schema: up to date")
    result = apply_connector(settings)
    report(f"connector {result.name}: {result.outcome.value}")
    wait_until_running(settings, timeout=120)
    report(f"connector {result.name}: running")


def first_collection(log_dir: Path, report: Report) -> None:
    """One collection pass over every source: its summary is reported, its log goes to collector.log.

    A failed source is reported and the job goes on: the scheduler tries it again.
    """
    report("collecting every source once (first pass) ...")
    log_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([*AEGIS, "collect", "--once", "--quiet"], capture_output=True, stdin=subprocess.DEVNULL)
    with (log_dir / "collector.log").open("ab") as log:
        log.write(result.stderr)
    for line in result.stdout.decode(errors="replace").splitlines():
        report(f"  {line}")
    if result.returncode != 0:
        errors = [line for line in result.stderr.decode(errors="replace").splitlines() if line.startswith("error:")]
        for line in errors[-3:]:
            report(f"  {line}")
        report(f"first collection pass exited with code {result.returncode}; the scheduler collects again every "
               f"COLLECTION_INTERVAL_HOURS (log: {log_dir / 'collector.log'})")


def progress_lines(settings: Settings, sinks: list[str]) -> list[str]:
    from console.ops.status import gather

    status = gather(settings, sinks)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(status.policies_by_status.items())) or "none yet"
    lines = [f"policies: {counts}"]
    for s in status.sinks:
        members = f"  members {len(s.members)}" if settings.sinks.members > 1 else ""
        lines.append(f"  {s.name:<8} {s.state:<20} records {s.target_count if s.target_count is not None else '?':>6}"
                     f"  lag {s.lag_events if s.lag_events is not None else '?'} events"
                     f" / {s.lag_seconds or 0:.1f}s  lsn {s.last_applied_lsn or '-'}{members}")
    if status.last_reconcile:
        lines.append(f"  reconcile at {status.last_reconcile.checked_at:%H:%M:%S}: {status.last_reconcile.brief()}")
    return lines


class RetentionClock:
    """Runs ``enforce_retention`` once at start and then every RETENTION_INTERVAL_HOURS (in the main
    job's own loop: one short SQL job a day needs no process of its own)."""

    def __init__(self, settings: Settings, report: Report, clock: Callable[[], float] = time.monotonic):
        self.settings, self.report, self.clock = settings, report, clock
        self.next_at = clock()

    def maybe_run(self) -> None:
        if self.clock() < self.next_at:
            return
        self.next_at = self.clock() + self.settings.retention.interval_hours * 3600
        from aegis.db.retention import enforce_retention

        try:
            with connect(self.settings.postgres, autocommit=True, role="owner") as conn:  # deletes old audit rows
                result = enforce_retention(conn, self.settings.retention)
        except Exception as exc:  # noqa: BLE001 - retention is retried at its next interval; the job goes on
            self.report(f"retention failed (retried in {self.settings.retention.interval_hours:g} h): {exc}")
            return
        if any(result.removed.values()):
            self.report("retention removed: " + ", ".join(f"{k} {v}" for k, v in result.removed.items() if v))


def run_main_job(settings: Settings, sinks: list[str], *, report: Report = print, progress_every: float = 15.0,
                 duration: float | None = None) -> None:
    log_dir = settings.stack.state_path / "logs" / "main-job"
    check_ports_free(settings, sinks)
    prepare(settings, report)
    first_collection(log_dir, report)
    exporter_port = exporter_metrics_port(settings, sinks)
    exporter = PipelineExporter(settings, sinks)
    stop_exporter = exporter.serve(exporter_port, host=settings.service.metrics_host)
    report(f"pipeline metrics on http://{settings.service.metrics_host}:{exporter_port}/metrics")
    register_scrape_targets(settings, sinks)
    supervisor = Supervisor(process_specs(settings, sinks), log_dir, report)
    # the watchdog's counts are served beside the exporter's gauges (compose runs it as its own service)
    watchdog = ConnectorWatchdog(settings, report,
                                 metrics=WatchdogMetrics(settings.connector.name, registry=exporter.registry))
    started = time.monotonic()
    last = [0.0]
    retention = RetentionClock(settings, report)

    def tick() -> None:
        watchdog.check()
        retention.maybe_run()
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
