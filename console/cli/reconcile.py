"""`aegis reconcile`: one pass now (`--once`) or every RECONCILE_INTERVAL seconds (`--schedule`)."""

from __future__ import annotations

import sys
import threading
from typing import Any

import click

from aegis.errors import AegisError, ConfigError, ErrorCode
from aegis.settings import Settings

EXIT_HELP = ("Exit status: 0 every target consistent, lagging (changes in flight, left to the stream) or repaired "
             "and verified by a fresh read; 1 a --dry-run found drift; 2 an error, a target not checked, or a "
             f"repair a fresh read did not confirm ({ErrorCode.REPAIR_NOT_VERIFIED.value}).")


def _progress(line: str) -> None:
    click.echo(f"  {line}", err=True)


def render_summary(report) -> list[str]:
    """The readable end-of-pass summary (the JSON form is `--json`)."""
    from reconciler.drift import DriftKind
    from reconciler.report import TargetStatus

    lines = [f"reconcile {report.run_id}{' (dry run: nothing written)' if report.dry_run else ''}"]
    q = report.quality
    if q is not None:
        verb = "would become" if report.dry_run else "became"
        lines.append(f"quality: {q.scored} scored, {verb} {q.activated} active / {q.rejected} rejected / "
                     f"{q.archived} archived; {q.expired} expired archived; {len(report.duplicates)} duplicate(s)"
                     + (f"; {q.skipped} skipped (changed meanwhile)" if q.skipped else ""))
    kinds = [kind for kind in DriftKind]
    lines.append(f"{'target':<8} {'status':<11} {'postgres':>9} {'checked':>9} {'deep':>8} "
                 + " ".join(f"{kind.value:>{max(5, len(kind.value))}}" for kind in kinds)
                 + f" {'in flight':>9} {'repaired':>8} {'time':>6}")
    colours = {TargetStatus.CONSISTENT: "green", TargetStatus.REPAIRED: "green", TargetStatus.LAGGING: "cyan",
               TargetStatus.DRIFTED: "yellow"}
    for t in report.targets:
        status = click.style(f"{t.status.value:<11}", fg=colours.get(t.status, "red"))
        lines.append(f"{t.target:<8} {status} {t.source_count:>9,} {t.target_count:>9,} {t.deep_checked:>8,} "
                     + " ".join(f"{getattr(t, kind.value):>{max(5, len(kind.value))}}" for kind in kinds)
                     + f" {t.in_flight:>9} {t.repaired:>8} {t.elapsed_ms / 1000:>5.1f}s")
        if t.error:
            lines.append(f"    {t.error.splitlines()[0]}")
        if t.repair_failed:
            lines.append(f"    [{ErrorCode.REPAIR_NOT_VERIFIED.value}] {t.repair_failed} repair(s) not confirmed "
                         "by a fresh read: ids "
                         f"{', '.join(map(str, t.failed_ids[:20]))}{' …' if len(t.failed_ids) > 20 else ''}"
                         f"\n      -> see the drift lines below; the record may be held by something outside the sink "
                         f"(a foreign index behind the alias, a guard version set by hand)")
        if t.stream_note:
            lines.append(f"    change stream: {t.stream_note}")
    drift = [i for i in report.inconsistencies if not i.in_flight]
    flight = [i for i in report.inconsistencies if i.in_flight]
    if drift:
        lines.append("drift:")
        for item in drift[:50]:
            lines.append(f"  {item.target:<8} {item.kind.value:<8} #{item.policy_id}: {item.detail}")
        if len(drift) > 50:
            lines.append(f"  … {len(drift) - 50} more (--json lists up to "
                         f"{report.listed_per_target} per kind and target)")
    if flight:
        lines.append("in flight (lag, left to the change stream; not repaired):")
        for item in flight[:20]:
            lines.append(f"  {item.target:<8} #{item.policy_id}: {item.detail}")
        if len(flight) > 20:
            lines.append(f"  … {len(flight) - 20} more")
    for dup in report.duplicates[:20]:
        lines.append(f"duplicate #{dup.duplicate_id} → #{dup.canonical_id}: {dup.reason}")
    code = report.exit_code()
    lagging = sum(t.in_flight for t in report.targets)
    verdict = {0: ("consistent" + (" after repair, every repair verified by a fresh read"
                                   if report.drift_found and not report.dry_run else "")
                   + (f"; {lagging} change(s) still in flight" if lagging else "")),
               1: "drift found", 2: "not every target could be checked or repaired"}[code]
    lines.append(f"result: {verdict} (exit {code})")
    return lines


@click.command(epilog=EXIT_HELP)
@click.option("--once", is_flag=True, help="Run one pass now and exit.")
@click.option("--schedule", "scheduled", is_flag=True,
              help="Run a pass now and then every RECONCILE_INTERVAL seconds until stopped (Ctrl-C / SIGTERM).")
@click.option("--dry-run", is_flag=True, help="Only detect and report: repair, promote, store nothing.")
@click.option("--target", "targets", multiple=True, metavar="NAME",
              help="Reconcile only this target (repeatable; default RECONCILE_TARGETS, else every sink).")
@click.option("--deep", is_flag=True,
              help="Read every record of every target as a reader sees it and compare it field by field with "
                   "PostgreSQL (slower; each pass already does this for the differing ranges and a rotating "
                   "1/RECONCILE_DEEP_SLICES of the rest).")
@click.option("--full-scan", "deep", is_flag=True, hidden=True, help="Old name of --deep.")
@click.option("--json", "as_json", is_flag=True, help="Print the ConsistencyReport as JSON on stdout.")
@click.option("--metrics-port", type=int, default=None,
              help="With --schedule: serve /metrics, /health and /health/ready on this port (reconciler/metrics.py).")
@click.pass_obj
def reconcile(settings: Settings, once: bool, scheduled: bool, dry_run: bool, targets: tuple[str, ...],
              deep: bool, as_json: bool, metrics_port: int | None) -> None:
    """Score and promote pending policies, archive duplicates, and find and repair drift
    between PostgreSQL's active view and every target (search, graph, vector, cache).

    Drift kinds: missing, orphaned, stale (another version), content (edited in the target),
    metadata (bookkeeping edited), partial (a part of the record gone), wiped (target empty).
    A difference whose change is still on its way is reported "in flight" (lag), not repaired.
    Every repair is verified by reading the record again. Progress goes to stderr; the summary
    (or --json report) to stdout.
    """
    from reconciler.runner import PassOptions, Reconciler, run_scheduled

    if once == scheduled:
        raise ConfigError("choose exactly one of --once and --schedule",
                          hint="`aegis reconcile --once` runs one pass; `--schedule` runs one every RECONCILE_INTERVAL")
    if metrics_port is not None and not scheduled:
        raise ConfigError("--metrics-port serves a long-running reconciler: use it with --schedule",
                          hint="`aegis reconcile --schedule --metrics-port 9100`")
    options = PassOptions(dry_run=dry_run, targets=list(targets), deep=deep)
    reconciler = Reconciler(settings, progress=_progress)

    def show(report) -> None:
        if as_json:
            click.echo(report.model_dump_json(indent=2))
        else:
            for line in render_summary(report):
                click.echo(line)

    if once:
        report = reconciler.run_pass(options)
        show(report)
        sys.exit(report.exit_code())

    observe, failed, server = (lambda _report: None), (lambda _exc: None), None
    if metrics_port is not None:
        observe, failed, server = _serve_metrics(settings, options, metrics_port)

    def on_report(report) -> None:
        observe(report)
        show(report)

    def on_error(exc: AegisError) -> None:
        failed(exc)
        click.secho(f"error: {exc}", fg="red", err=True)

    click.echo(f"reconciling every {settings.reconciler.interval}s (Ctrl-C to stop)", err=True)
    try:
        run_scheduled(reconciler, options, interval_seconds=settings.reconciler.interval, on_report=on_report,
                      on_error=on_error, stop=threading.Event())
    finally:
        if server is not None:
            server.stop()
    click.echo("stopped", err=True)


def _serve_metrics(settings: Settings, options, port: int):
    """The scheduled reconciler's /metrics and health: (observe a report, record a failure, server)."""
    from prometheus_client import CONTENT_TYPE_LATEST

    from aegis.db import connect
    from aegis.health_server import HealthServer, publish_service_info
    from reconciler.metrics import LAST_SUCCESS_SQL, ReconcileMetrics
    from reconciler.runner import ReconcileBusy, registered_sinks

    targets = list(registered_sinks(settings, options.targets or settings.reconciler.target_names))
    metrics = ReconcileMetrics(targets, settings.reconciler.interval)
    publish_service_info(metrics.registry, settings.service)
    try:
        with connect(settings.postgres, autocommit=True) as conn:
            row = conn.execute(LAST_SUCCESS_SQL).fetchone()
        metrics.seed_last_success(float(row[0]) if row else None)
    except AegisError as exc:
        click.secho(f"warning: last successful pass unknown ({exc.message})", fg="yellow", err=True)
    state: dict[str, Any] = {"ready": True, "passes": 0, "last_result": None}
    try:
        server = HealthServer(settings.service.metrics_host, port, metrics=metrics.render,
                              metrics_content_type=CONTENT_TYPE_LATEST, alive=lambda: True,
                              readiness=lambda: dict(state), thread_name="reconciler-metrics").start()
    except OSError as exc:
        raise ConfigError(f"cannot serve metrics on {settings.service.metrics_host}:{port}: {exc}",
                          hint="choose a free --metrics-port") from None
    click.echo(f"metrics and health on {server.url}", err=True)

    def observe(report) -> None:
        from reconciler.metrics import pass_result

        metrics.observe(report)
        state.update(passes=state["passes"] + 1, last_result=pass_result(report))

    def failed(exc: AegisError) -> None:
        metrics.failed(busy=isinstance(exc, ReconcileBusy))
        state.update(last_result="busy" if isinstance(exc, ReconcileBusy) else "error")

    return observe, failed, server
