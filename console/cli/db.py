"""`aegis db`: schema migrations."""

from __future__ import annotations

import click

from aegis.db import connect
from aegis.db.migrate import applied_versions
from aegis.db.migrate import migrate as run_migrations
from aegis.settings import Settings


@click.group()
def db() -> None:
    """PostgreSQL schema management."""


@db.command()
@click.pass_obj
def migrate(settings: Settings) -> None:
    """Apply pending numbered migrations (idempotent) and Debezium's publication and grants."""
    with connect(settings.postgres, autocommit=True, role="owner") as conn:
        done = run_migrations(conn, settings.postgres)
        versions = applied_versions(conn)
    if done:
        for m in done:
            click.echo(f"applied {m.version:04d}_{m.name}")
    else:
        click.echo("schema is up to date")
    click.echo(f"schema version: {versions[-1] if versions else 0:04d}")
