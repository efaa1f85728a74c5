"""`aegis stack`: the native local stack (PostgreSQL, Redis, Kafka, Kafka Connect + Debezium)."""

from __future__ import annotations

import json
import sys
import time

import click

from aegis.errors import StackError
from aegis.settings import Settings
from devstack.manager import StackManager

services_arg = click.argument("services", nargs=-1)


@click.group()
def stack() -> None:
    """Run the real servers natively from packages, no Docker.

    State (data, logs, pid files) lives under AEGIS_STACK_STATE_DIR (default .stack/).
    """


@stack.command()
@services_arg
@click.option("--warm-up-seconds", type=click.FloatRange(min=0), default=None,
              help="Seconds of warm-up for the JIT-compiled targets started now (default: "
                   "AEGIS_STACK_WARM_UP_SECONDS; 0: none). See `aegis stack warm-up --help`.")
@click.pass_obj
def up(settings: Settings, services: tuple[str, ...], warm_up_seconds: float | None) -> None:
    """Start SERVICES (default: all) and wait until each is healthy. Running ones are left alone.

    Then the servers it started that compile their code while running (OpenSearch, Neo4j, the Kafka
    brokers) are warmed up, so that the first real changes do not wait for the JIT compiler.
    """
    started = time.monotonic()
    manager = StackManager(settings)
    running = {s.name for s in manager.status(list(services)) if s.pid is not None}
    manager.up(list(services), progress=click.echo)
    click.echo(f"stack healthy in {time.monotonic() - started:.1f}s")
    seconds = settings.stack.warm_up_seconds if warm_up_seconds is None else warm_up_seconds
    cold = [s.name for s in manager.select(list(services)) if s.compiled_while_running and s.name not in running]
    if seconds and cold:
        _warm_up(settings, cold, seconds, quiet=True)


@stack.command("warm-up")
@services_arg
@click.option("--seconds", type=click.FloatRange(min=1), default=None,
              help="How long to drive each target (default: AEGIS_STACK_WARM_UP_SECONDS, else 120).")
@click.pass_obj
def warm_up(settings: Settings, services: tuple[str, ...], seconds: float | None) -> None:
    """Warm up the running JIT-compiled servers among SERVICES (default: opensearch, neo4j and kafka).

    A JVM server compiles its hot paths during its first minutes of load, and on a small machine the
    compiler takes the CPU the first real changes need (commit → visible p99 several times the warm
    figure). This drives each target's own sink, batches of upserts and removals of synthetic
    policies and the reconciler's reads, into a scratch corner of the target for SECONDS, then drops
    the corner; Kafka gets change-event-sized messages through a scratch topic and consumer group,
    deleted at the end. Nothing reaches PostgreSQL. `aegis stack up` runs it for the servers it starts.
    """
    manager = StackManager(settings)
    chosen = [s.name for s in manager.select(list(services) or None) if s.compiled_while_running]
    if not chosen:  # status([]) would report the whole default set
        click.echo(f"nothing to warm up: {', '.join(services)} compile nothing while running")
        return
    down = [s.name for s in manager.status(chosen) if not s.healthy]
    if down:
        raise StackError(f"not running: {', '.join(down)}", hint="start them first: aegis stack up " + " ".join(down))
    _warm_up(settings, chosen, seconds or settings.stack.warm_up_seconds or 120.0)


def _warm_up(settings: Settings, services: list[str], seconds: float, *, quiet: bool = False) -> None:
    """Warm up ``services``; ``quiet``: say nothing when no sink writes to any of them (Kafka alone)."""
    from console.ops.warmup import warm_up as drive

    results = drive(settings, services, seconds, progress=click.echo)
    if not results and not quiet:
        click.echo(f"nothing to warm up: no sink writes to {', '.join(services) or 'a running JIT-compiled server'}")


@stack.command()
@click.option("--timeout", type=click.FloatRange(min=1), default=300.0, show_default=True,
              help="Seconds to wait in all before reporting what is left.")
@click.pass_obj
def settle(settings: Settings, timeout: float) -> None:
    """Have Milvus do now the background work that recent writes left it, and wait for it.

    Milvus seals a segment only after ten minutes without a write, then indexes it, compacts away
    deleted rows and reloads the result: after a burst of writes (a test suite, a benchmark, a
    backfill) up to half a core for minutes, ten minutes later. This seals, compacts and indexes every
    collection now and waits until the query node serves only sealed, indexed segments. Data is
    unchanged. Fails, naming what is left, when a collection is not settled within --timeout.
    """
    from console.ops.settle import settle_milvus

    manager = StackManager(settings)
    [milvus] = manager.select(["milvus"])
    if not all(s.healthy for s in manager.status([milvus.name])):
        raise StackError("not running: milvus", hint="start it first: aegis stack up milvus")
    results = settle_milvus(settings.milvus, timeout, progress=click.echo)
    if not results:
        click.echo("milvus: no collection to settle")
    unsettled = [r.collection for r in results if not r.settled]
    if unsettled:
        raise StackError(f"milvus: not settled within {timeout:.0f}s: {', '.join(unsettled)}",
                         hint="run it again with a longer --timeout; the lines above name what is left, "
                              f"and {milvus.log_path} what Milvus is doing")


@stack.command()
@services_arg
@click.pass_obj
def down(settings: Settings, services: tuple[str, ...]) -> None:
    """Stop SERVICES (default: all) that the stack started, newest first. Data is kept."""
    StackManager(settings).down(list(services), progress=click.echo)


@stack.command()
@services_arg
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list: name, pid, port, healthy, log.")
@click.pass_obj
def status(settings: Settings, services: tuple[str, ...], as_json: bool) -> None:
    """Show each service's pid, port and health. Exit 1 when any is not healthy."""
    statuses = StackManager(settings).status(list(services))
    if as_json:
        click.echo(json.dumps([s.to_dict() for s in statuses], indent=2))
    else:
        for s in statuses:
            state = click.style("healthy", fg="green") if s.healthy else click.style(
                "down" if s.pid is None else "unhealthy", fg="red")
            click.echo(f"{s.name:<16} {state:<18} pid={s.pid or '-':<8} port={s.port}")
    sys.exit(0 if all(s.healthy for s in statuses) else 1)


@stack.command()
@click.option("--force", is_flag=True, help="Resolve again even when the jars match the pom.")
@click.pass_obj
def install(settings: Settings, force: bool) -> None:
    """Resolve the Java servers' jars from Maven Central into the state directory (`up` does it if missing)."""
    from devstack.jars import ensure_jars

    path = ensure_jars(settings.stack, progress=click.echo, force=force)
    click.echo(f"server jars ready in {path}")
    from devstack.neo4j import POM_NAME as NEO4J_POM

    path = ensure_jars(settings.stack, progress=click.echo, force=force, name=NEO4J_POM)
    click.echo(f"neo4j jars ready in {path}")
