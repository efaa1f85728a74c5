"""`aegis stack`: the native local stack (PostgreSQL, Redis, Kafka, Kafka Connect + Debezium)."""

from __future__ import annotations

import json
import sys
import time

import click

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
@click.pass_obj
def up(settings: Settings, services: tuple[str, ...]) -> None:
    """Start SERVICES (default: all) and wait until each is healthy. Running ones are left alone."""
    started = time.monotonic()
    StackManager(settings).up(list(services), progress=click.echo)
    click.echo(f"stack healthy in {time.monotonic() - started:.1f}s")


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
