"""`aegis collect`: one collection pass, or the collection schedule."""

from __future__ import annotations

import signal
import sys
import threading

import click

from aegis.errors import ConfigError
from aegis.settings import Settings
from collectors.models import SourceSummary
from collectors.runner import Collector, PageProgress, PassResult
from collectors.sources.base import SourceKind


@click.command()
@click.option("--once", "mode", flag_value="once", help="Run one pass over the sources and exit.")
@click.option("--schedule", "mode", flag_value="schedule",
              help="Run the schedule until stopped (API sources every COLLECTION_INTERVAL_HOURS, "
                   "web boards daily at 00:00 KST).")
@click.option("--source", "names", multiple=True, metavar="NAME",
              help="Only this source (repeatable); `aegis sources list` shows the names.")
@click.option("--kind", type=click.Choice(["api", "board"]), default=None, help="Only API sources or only web boards.")
@click.option("--run-now/--no-run-now", default=True, show_default=True,
              help="With --schedule: collect the API sources at start instead of waiting for the first interval.")
@click.option("--quiet", is_flag=True, help="No per-page progress lines.")
@click.option("--allow-samples", is_flag=True,
              help="With ENVIRONMENT=production: collect sources that resolve to the bundled sample server or "
                   "sample boards anyway (refused by default; same as SOURCE_ALLOW_SAMPLES_IN_PRODUCTION=true).")
@click.option("--metrics-port", type=int, default=None,
              help="With --schedule: serve /metrics (seed §6.4 names), /health and /health/ready on this port "
                   "(address: METRICS_HOST).")
@click.pass_obj
def collect(settings: Settings, mode: str | None, names: tuple[str, ...], kind: str | None, run_now: bool,
            quiet: bool, allow_samples: bool, metrics_port: int | None) -> None:
    """Collect public policy sources into PostgreSQL (new and changed records only).

    Sources without an API key are collected from the local sample server
    (SOURCE_SAMPLES_URL), which is started in this process if nothing answers there; with
    ENVIRONMENT=production they are refused (DP_5001) unless --allow-samples. Exit status: 0
    when every source succeeded, 1 when some failed (each is reported with its DP code and
    what to do), 2 when nothing could run.
    """
    if mode is None:
        raise ConfigError("say how to collect: --once or --schedule", hint="see `aegis collect --help`")
    from aegis.db import connect
    from collectors.samples.autostart import ensure_sample_server
    from collectors.sources.registry import build_sources

    collector = Collector(settings, allow_samples=allow_samples)
    kinds = {SourceKind(kind)} if kind else None
    planned = [s for s in build_sources(settings, collector.state, list(names)) if kinds is None or s.kind in kinds]
    for source in planned:
        source.close()
    refused = [s for s in planned if s.using_samples and collector.refuse_samples]
    if refused and len(refused) == len(planned):  # nothing real to collect: say so before touching anything
        raise ConfigError(f"ENVIRONMENT=production and every selected source resolves to the bundled sample data "
                          f"({', '.join(s.name for s in refused)}); nothing was collected",
                          hint="give the sources their keys (SOURCE_<NAME>_API_KEY, SOURCE_PORTAL_API_KEY) or base "
                               "URLs and point boards at real sites; or collect sample data on purpose with "
                               "`aegis collect --allow-samples` or SOURCE_ALLOW_SAMPLES_IN_PRODUCTION=true")
    with connect(settings.postgres):  # fail early, once, with DP_5004 and a hint, if PostgreSQL is down
        pass
    server = None
    if any(s.using_samples and not collector.refuse_samples for s in planned):
        server = ensure_sample_server(settings.sources.samples_url)
        if server is not None:
            click.echo(f"no sample server was running: serving the sample sources at {server.url} for this run",
                       err=True)
    try:
        if mode == "once":
            result = collector.run_once(list(names), kinds, progress=(lambda _: None) if quiet else _print_progress)
            _print_summary(result)
            sys.exit(0 if result.ok else 1)
        from prometheus_client import REGISTRY

        from aegis.health_server import publish_service_info
        from collectors import metrics
        from collectors.observability import CollectorHealth, ObservabilityServer

        metrics.init_sources(s.name for s in planned)
        publish_service_info(REGISTRY, settings.service)
        health, observability = CollectorHealth(), None
        if metrics_port is not None:
            try:
                observability = ObservabilityServer(health, settings.service.metrics_host, metrics_port).start()
            except OSError as exc:
                raise ConfigError(f"cannot serve metrics on {settings.service.metrics_host}:{metrics_port}: {exc}",
                                  hint="pick another --metrics-port") from None
            click.echo(f"metrics at {observability.url}/metrics, health at {observability.url}/health/ready", err=True)
        try:
            _run_schedule(settings, collector, run_now, list(names), health)
        finally:
            if observability is not None:
                observability.stop()
    finally:
        if server is not None:
            server.stop()


def _print_progress(progress: PageProgress) -> None:
    total = f"/{progress.total}" if progress.total else ""
    click.echo(f"  {progress.source}: page {progress.page} stored ({progress.fetched}{total} records)", err=True)


def _status(summary: SourceSummary) -> str:
    if summary.error:
        return f"FAILED {summary.error.code}"
    return "ok (samples)" if summary.using_samples else "ok"


def _print_summary(result: PassResult) -> None:
    header = (f"{'source':<18}{'pages':>6}{'fetched':>9}{'new':>7}{'changed':>9}{'unchanged':>11}{'rejected':>10}"
              f"{'time':>8}  status")
    click.echo(header)
    for s in result.summaries:
        click.echo(f"{s.source:<18}{s.pages:>6}{s.fetched:>9}{s.new:>7}{s.changed:>9}{s.unchanged:>11}"
                   f"{s.rejected:>10}{s.seconds:>7.1f}s  {_status(s)}")
    totals = {k: sum(getattr(s, k) for s in result.summaries)
              for k in ("fetched", "new", "changed", "unchanged", "rejected")}
    click.echo(f"{'total':<18}{'':>6}{totals['fetched']:>9}{totals['new']:>7}{totals['changed']:>9}"
               f"{totals['unchanged']:>11}{totals['rejected']:>10}{result.seconds:>7.1f}s  run {result.run_id}")
    for s in result.summaries:
        if s.error:
            click.secho(f"[{s.error.code}] {s.source}: {s.error.message}", fg="red", err=True)
            if s.error.hint:
                click.echo(f"  -> {s.error.hint}", err=True)
    if totals["rejected"]:
        click.echo("rejected records are kept whole in the dead_letters table (with their DP_2xxx code and reason)",
                   err=True)


def _run_schedule(settings: Settings, collector: Collector, run_now: bool, names: list[str], health) -> None:
    from collectors.scheduler import CollectionScheduler

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    def report(kind: SourceKind, result: PassResult) -> None:
        health.record(result)
        click.echo(f"{kind.value} pass {result.run_id} finished in {result.seconds:.1f}s", err=True)
        _print_summary(result)

    scheduler = CollectionScheduler(settings, collector, on_result=report, names=names)
    for job in scheduler.install():
        click.echo(f"scheduled: {job}", err=True)
    click.echo("collecting on schedule; Ctrl-C to stop", err=True)
    scheduler.run(stop, run_now=run_now)
    click.echo("scheduler stopped", err=True)
