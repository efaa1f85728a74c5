"""`aegis run` and `aegis status`: the main job and the one-screen view of it."""

from __future__ import annotations

import sys

import click

from aegis.settings import Settings


def _sink_list(names: tuple[str, ...]) -> list[str]:
    from cdc_sinks.registry import sink_names

    return list(names) or sink_names()


@click.command("run")
@click.option("--sink", "sinks", multiple=True, help="Run only this sink (repeatable; default: every sink).")
@click.option("--progress-every", type=float, default=15.0, show_default=True, help="Seconds between progress blocks.")
@click.option("--duration", type=float, default=None, help="Stop by itself after this many seconds (tests, demos).")
@click.pass_obj
def run(settings: Settings, sinks: tuple[str, ...], progress_every: float, duration: float | None) -> None:
    """Run the whole pipeline on the local stack until Ctrl-C.

    Starts the stack, migrates, applies the Debezium connector, then supervises the collector
    scheduler (first pass at once; sample sources when no API key is set), one process per sink
    and the hourly reconciler, restarting any that crash (with backoff) and printing progress.
    Ctrl-C stops the processes cleanly; `make stop` stops the servers.
    """
    from console.ops.mainjob import run_main_job

    run_main_job(settings, _sink_list(sinks), report=lambda line: click.echo(line),
                 progress_every=progress_every, duration=duration)


@click.command("status")
@click.option("--sink", "sinks", multiple=True, help="Only this sink (repeatable; default: every sink).")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.pass_obj
def status(settings: Settings, sinks: tuple[str, ...], as_json: bool) -> None:
    """Show the pipeline: per sink lag (in all and per partition), LSN, state, its consumer group's
    members and the partitions each holds; per target counts vs PostgreSQL; dead letters
    (counted from the topic's watermarks); slot lag; last reconcile; policies by status and source.

    Exit status 0 when all is well, 1 when something needs attention (listed at the end).
    """
    from console.ops.status import gather

    result = gather(settings, _sink_list(sinks))
    if as_json:
        click.echo(result.model_dump_json(indent=2))
    else:
        _print_status(result)
    sys.exit(1 if result.attention else 0)


def _print_status(result) -> None:
    click.echo("sinks:")
    for s in result.sinks:
        click.echo(f"  {s.name:<8} {s.state:<20} lag {s.lag_events if s.lag_events is not None else '?'} events "
                   f"/ {(s.lag_seconds or 0):.1f}s  lsn {s.last_applied_lsn or '-'}  "
                   f"records {s.target_count if s.target_count is not None else 'unreachable'} "
                   f"(PostgreSQL active {result.postgres_active if result.postgres_active is not None else '?'})")
        if s.group_state is not None:
            held = "; ".join(f"{m.client_id} ({m.host}) {_ranges(m.partitions) or 'standing by'}" for m in s.members)
            click.echo(f"           group {s.group_state}, {len(s.members)} member(s){': ' + held if held else ''}")
        if len(s.partitions) > 1:
            lags = " ".join(f"{p.partition}:{p.lag_events}" for p in s.partitions)
            click.echo(f"           lag per partition: {lags}")
    click.echo(f"dead letters: {result.dead_letters if result.dead_letters is not None else '?'}")
    click.echo(f"connector: {result.connector_state or 'unknown'}; replication slot lag "
               f"{result.slot_lag_bytes if result.slot_lag_bytes is not None else '?'} bytes")
    if result.last_reconcile:
        r = result.last_reconcile
        click.echo(f"last reconcile: {r.checked_at:%Y-%m-%d %H:%M:%S} {'(dry run) ' if r.dry_run else ''}{r.brief()}")
    else:
        click.echo("last reconcile: never")
    for m in result.embedding_models:
        sampled = (f"{m.korean_rows} of {m.rows_sampled} sampled rows Korean" if m.rows_sampled is not None
                   else f"rows unreadable ({m.sample_error})")
        click.echo(f"milvus {m.collection}{' (current)' if m.current else ''}: model {m.model_version or '?'}"
                   f"{' — English-only' if m.english_only else ''}; {sampled}")
    by_status = ", ".join(f"{k} {v}" for k, v in sorted(result.policies_by_status.items()))
    click.echo("policies by status: " + (by_status or "none"))
    for source, counts in sorted(result.policies_by_source.items()):
        click.echo(f"  {source:<14} " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for item in result.warnings:
        click.echo(f"warning: {item}")
    if result.attention:
        click.secho("needs attention:", fg="yellow")
        for item in result.attention:
            click.echo(f"  - {item}")
    else:
        click.secho("all well", fg="green")


def _ranges(partitions: list[int]) -> str:
    """``[0-2,5]`` for partitions 0, 1, 2 and 5."""
    spans: list[list[int]] = []
    for p in sorted(partitions):
        if spans and p == spans[-1][1] + 1:
            spans[-1][1] = p
        else:
            spans.append([p, p])
    return ("[" + ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in spans) + "]") if spans else ""


@click.command("exporter")
@click.option("--port", type=int, default=9100, show_default=True, help="Port of /metrics.")
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--every", type=float, default=15.0, show_default=True, help="Seconds between refreshes.")
@click.pass_obj
def exporter(settings: Settings, port: int, host: str, every: float) -> None:
    """Serve the pipeline gauges seen from outside on /metrics until stopped: PostgreSQL (policies,
    quality per source, replication slot), Kafka (each sink group's lag) and every target (pinged)."""
    import signal
    import threading

    from console.ops.exporter import PipelineExporter

    stop = PipelineExporter(settings).serve(port, host=host, every=every)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    click.echo(f"pipeline metrics on http://{host}:{port}/metrics", err=True)
    done.wait()
    stop.set()
