"""`aegis connectors`: the Debezium source connector on Kafka Connect (apply, status, lifecycle)."""

from __future__ import annotations

import json
import sys

import click

from aegis.settings import Settings


def _overrides(pairs: tuple[str, ...]) -> dict[str, str]:
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--set")
        result[key.strip()] = value
    return result


def _bytes(value: int | None) -> str:
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


@click.group()
def connectors() -> None:
    """Manage the Debezium PostgreSQL connector (connectors/policies-source.json) on Kafka Connect.

    Policy row changes go to `<KAFKA_TOPIC_PREFIX>.public.policies`, outbox events to
    `KAFKA_TOPIC_POLICY_EVENTS`. Kafka Connect is at KAFKA_CONNECT_URL.
    """


@connectors.command()
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override one connector property (repeatable), e.g. --set poll.interval.ms=100.")
@click.option("--print", "print_only", is_flag=True, help="Print the rendered config and exit; apply nothing.")
@click.option("--format", "change_format", type=click.Choice(["json", "avro"]), default=None,
              help="Change-event encoding profile (default: CHANGE_EVENTS_FORMAT). avro needs the schema "
                   "registry (SCHEMA_REGISTRY_URL; `aegis stack up schema-registry`) and sinks run with "
                   "CHANGE_EVENTS_FORMAT=avro; see docs/avro.md.")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait until the connector and its task run.")
@click.pass_obj
def apply(settings: Settings, sets: tuple[str, ...], print_only: bool, change_format: str | None, wait: bool) -> None:
    """Validate the connector config with Kafka Connect, then create or update it (idempotent).

    Every invalid field is printed with Kafka Connect's message and the command exits non-zero.
    Applying the same config again changes nothing.
    """
    from connectors.config import load_connector_config
    from connectors.manage import ApplyOutcome, ConnectorInvalid, apply_connector, wait_until_running

    config = load_connector_config(settings, _overrides(sets), change_format=change_format)
    if print_only:
        click.echo(json.dumps(config.model_dump(), indent=2, ensure_ascii=False))
        return
    click.echo(f"applying {config.name} to Kafka Connect at {settings.kafka.connect_url} ...")
    try:
        result = apply_connector(settings, config=config)
    except ConnectorInvalid as exc:
        for problem in exc.problems:
            click.secho(f"  invalid {problem.name} = {problem.value!r}", fg="red", err=True)
            for message in problem.errors:
                click.echo(f"      {message}", err=True)
        raise
    if result.outcome is ApplyOutcome.UNCHANGED:
        click.echo(f"{result.name}: unchanged (the stored config already matches)")
    elif result.outcome is ApplyOutcome.CREATED:
        click.echo(f"{result.name}: created")
    else:
        click.echo(f"{result.name}: updated ({', '.join(result.changed_keys)})")
    for warning in result.warnings:
        click.secho(f"warning: {warning}", fg="yellow")
    if wait and result.outcome is not ApplyOutcome.UNCHANGED:
        wait_until_running(settings, progress=lambda line: click.echo(f"  {line}"))
        click.echo(f"{result.name}: running")


@connectors.command()
@click.option("--partitions", type=click.IntRange(1, 1000), default=None,
              help="The new partition count (default: KAFKA_CHANGE_TOPIC_PARTITIONS). Kafka only adds partitions.")
@click.option("--timeout", type=float, default=600.0, show_default=True,
              help="Longest wait for the sink groups to apply everything before partitions are added.")
@click.pass_obj
def repartition(settings: Settings, partitions: int | None, timeout: float) -> None:
    """Add partitions to the change topic and the DLQ without breaking any policy's order.

    A policy's changes are ordered because its id always hashes to the same partition; a new count
    moves keys. So: the connector is paused, every sink group must apply the whole change topic
    (run the sinks meanwhile: `aegis run` or `aegis sinks run NAME`), then the partitions are added
    and the connector resumed — resumed also when the wait times out, with nothing changed.
    Afterwards restart the sinks' members to spread the new partitions (they pick them up within
    Kafka's metadata refresh, 5 minutes at most, without). See docs/changestream.md, "Partitions".
    """
    from connectors.manage import repartition as run_repartition

    count = partitions or settings.kafka.change_topic_partitions
    changed = run_repartition(settings, count, progress=click.echo, timeout=timeout)
    click.echo(f"repartitioned {len(changed)} topic(s) to {count}" if changed else "nothing changed")


@connectors.command(name="list")
@click.pass_obj
def list_(settings: Settings) -> None:
    """List the connectors Kafka Connect holds, with their states."""
    from connectors.manage import connector_status, list_connectors

    names = list_connectors(settings)
    if not names:
        click.echo("no connectors (create one with `aegis connectors apply`)")
    for name in names:
        status = connector_status(settings, name, with_slot=False)
        tasks = ",".join(t.state for t in status.tasks) or "-"
        click.echo(f"{name:<32} {status.state or 'ABSENT':<10} tasks={tasks}")


@connectors.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (connector, tasks, slot).")
@click.pass_obj
def status(settings: Settings, as_json: bool) -> None:
    """Connector and task states, a failed task's trace, and the replication slot's lag in bytes.

    Exits 0 when the connector and all tasks are RUNNING, 1 otherwise.
    """
    from connectors.manage import connector_status

    report = connector_status(settings)
    if as_json:
        click.echo(json.dumps(report.model_dump(mode="json"), indent=2))
        sys.exit(0 if report.running else 1)
    if not report.present:
        click.secho(f"{report.name}: not created (run `aegis connectors apply`)", fg="yellow")
    else:
        color = "green" if report.running else "red"
        click.echo(f"{report.name}: " + click.style(report.state or "?", fg=color) + f" on {report.worker_id}")
        if report.trace:
            click.echo(report.trace)
        for task in report.tasks:
            colour = "green" if task.state == "RUNNING" else "red"
            click.echo(f"  task {task.id}: " + click.style(task.state, fg=colour))
            if task.trace:
                click.echo("    " + task.trace.replace("\n", "\n    "))
    slot = report.slot
    if report.slot_error:
        click.secho(f"slot {settings.postgres.slot_name}: unknown ({report.slot_error})", fg="red")
    elif slot is None:
        click.echo(f"slot {settings.postgres.slot_name}: absent")
    else:
        click.echo(f"slot {slot.slot_name}: {'active' if slot.active else 'INACTIVE'}, "
                   f"confirmed {slot.confirmed_flush_lsn}, lag {_bytes(slot.lag_bytes)} ({slot.lag_bytes} bytes), "
                   f"WAL retained {_bytes(slot.retained_bytes)}, wal_status {slot.wal_status}")
    sys.exit(0 if report.running else 1)


@connectors.command()
@click.option("--failed-only", is_flag=True, help="Restart only the connector/tasks that are FAILED.")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait until it runs again.")
@click.pass_obj
def restart(settings: Settings, failed_only: bool, wait: bool) -> None:
    """Restart the connector and its tasks (including failed ones)."""
    from connectors.manage import restart_connector, wait_until_running

    restart_connector(settings, only_failed=failed_only)
    click.echo(f"{settings.connector.name}: restart requested")
    if wait:
        wait_until_running(settings, progress=lambda line: click.echo(f"  {line}"))
        click.echo(f"{settings.connector.name}: running")


@connectors.command()
@click.pass_obj
def pause(settings: Settings) -> None:
    """Pause the connector: it stops reading the slot (PostgreSQL keeps WAL meanwhile)."""
    from connectors.manage import pause_connector, wait_until_state

    pause_connector(settings)
    wait_until_state(settings, "PAUSED", progress=lambda line: click.echo(f"  {line}"))
    click.echo(f"{settings.connector.name}: paused — the slot holds WAL until `aegis connectors resume`")


@connectors.command()
@click.pass_obj
def resume(settings: Settings) -> None:
    """Resume a paused connector."""
    from connectors.manage import resume_connector, wait_until_running

    resume_connector(settings)
    wait_until_running(settings, progress=lambda line: click.echo(f"  {line}"))
    click.echo(f"{settings.connector.name}: running")


@connectors.command()
@click.option("--drop-slot", is_flag=True,
              help="Also reset the connector's offsets and drop the replication slot and the publication "
                   "(nothing is left holding WAL; the next apply takes a fresh snapshot after `aegis db migrate`).")
@click.pass_obj
def delete(settings: Settings, drop_slot: bool) -> None:
    """Delete the connector (and, with --drop-slot, its slot and publication)."""
    from connectors.manage import delete_connector
    from connectors.slot import slot_info

    result = delete_connector(settings, drop_replication=drop_slot, progress=click.echo)
    if not result.connector_deleted:
        click.echo(f"{result.name}: did not exist")
    if not drop_slot:
        slot = slot_info(settings.postgres)
        if slot is not None:
            click.secho(f"warning: slot {slot.slot_name} still exists and keeps WAL (lag {_bytes(slot.lag_bytes)}); "
                        "re-apply the connector soon or run `aegis connectors delete --drop-slot`",
                        fg="yellow", err=True)


@connectors.command()
@click.option("--every", type=click.FloatRange(min=1), default=15.0, show_default=True,
              help="Seconds between two looks at the connector.")
@click.option("--metrics-port", type=int, default=None,
              help="Serve /metrics, /health and /health/ready on this port (connector_running, "
                   "connector_failed_tasks, connector_task_restarts_total).")
@click.pass_obj
def watch(settings: Settings, every: float, metrics_port: int | None) -> None:
    """Restart the connector's failed tasks, with backoff, until stopped (SIGTERM / Ctrl-C).

    Kafka Connect never restarts a FAILED task by itself; `aegis run` does this in its own process,
    this command does it alone (compose's connector-watchdog service). Every restart is printed with
    the first line of the task's trace.
    """
    import signal
    import threading
    import time

    from aegis.errors import ConfigError
    from connectors.watchdog import ConnectorWatchdog

    watchdog = ConnectorWatchdog(settings, lambda line: click.echo(f"{time.strftime('%H:%M:%S')} {line}"),
                                 check_every=every)
    server = None
    if metrics_port is not None:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        from aegis.health_server import HealthServer, publish_service_info

        publish_service_info(watchdog.metrics.registry, settings.service)

        try:
            server = HealthServer(settings.service.metrics_host, metrics_port,
                                  metrics=lambda: generate_latest(watchdog.metrics.registry),
                                  metrics_content_type=CONTENT_TYPE_LATEST, alive=lambda: True,
                                  readiness=lambda: {"ready": True, "restarts": watchdog.restarts},
                                  thread_name="watchdog-metrics").start()
        except OSError as exc:
            raise ConfigError(f"cannot serve metrics on {settings.service.metrics_host}:{metrics_port}: {exc}",
                              hint="choose a free --metrics-port") from None
        click.echo(f"metrics and health on {server.url}", err=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    click.echo(f"watching connector {settings.connector.name} on {settings.kafka.connect_url} every {every:.0f}s",
               err=True)
    try:
        while not done.is_set():
            watchdog.check()
            done.wait(1.0)
    finally:
        if server is not None:
            server.stop()
    click.echo("stopped", err=True)
