"""The one `aegis` command. Settings are loaded once here and passed to every subcommand."""

from __future__ import annotations

import sys

import click

from aegis import __version__
from aegis.errors import AegisError
from aegis.logging import configure_logging
from aegis.settings import load_settings


class AegisGroup(click.Group):
    """Turns every ``AegisError`` into one clear message (code, what failed, next step) and exit 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AegisError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(2)


@click.group(cls=AegisGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--env-file", default=".env", show_default=True, type=click.Path(dir_okay=False),
              envvar="AEGIS_ENV_FILE", show_envvar=True,
              help="Read settings from this file as well as from the environment (the environment wins).")
@click.pass_context
def cli(ctx: click.Context, env_file: str) -> None:
    """Aegis Sync: collect public policy data into PostgreSQL and keep every target in step via CDC.

    Start with `aegis stack up` (local servers), then `aegis db migrate`.
    """
    if ctx.resilient_parsing or "--help" in sys.argv or "-h" in sys.argv:
        return
    settings = load_settings(env_file)
    configure_logging(settings.service)
    ctx.obj = settings


@cli.command()
def version() -> None:
    """Print the Aegis Sync version."""
    click.echo(f"aegis-sync {__version__}")


def _register() -> None:
    from console.cli.collect import collect
    from console.cli.connectors import connectors
    from console.cli.db import db
    from console.cli.dlq import dlq
    from console.cli.governance import audit, lineage, privacy, retention
    from console.cli.quality import quality
    from console.cli.reconcile import reconcile
    from console.cli.run import exporter, run, status
    from console.cli.sinks import sinks
    from console.cli.sources import sources
    from console.cli.stack import stack

    cli.add_command(stack)
    cli.add_command(db)
    cli.add_command(connectors)
    cli.add_command(sinks)
    cli.add_command(dlq)
    cli.add_command(reconcile)
    cli.add_command(quality)
    cli.add_command(collect)
    cli.add_command(sources)
    cli.add_command(run)
    cli.add_command(status)
    cli.add_command(exporter)
    cli.add_command(lineage)
    cli.add_command(audit)
    cli.add_command(privacy)
    cli.add_command(retention)


_register()


def main() -> None:
    cli(prog_name="aegis")
