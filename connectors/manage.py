"""What people, `make run` and tests call to manage the change stream's connector.

Every function takes the ``Settings`` tree and talks to Kafka Connect (``KAFKA_CONNECT_URL``)
and, where the slot is concerned, to PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field

from aegis.errors import AegisError, ErrorCode, TerminalError, TransientError
from aegis.settings import Settings
from connectors.config import ConnectorConfig, load_connector_config
from connectors.rest import ConnectClient, ConnectorNotFound, TaskState, ValidationProblem
from connectors.slot import SlotInfo, drop_publication, drop_slot, publication_exists, slot_info
from connectors.topics import add_partitions, ensure_change_topics, partition_counts, wait_for

Progress = Callable[[str], None]
OFFSET_RESET_TIMEOUT_SECONDS = 120.0


class ConnectorInvalid(TerminalError):
    """Kafka Connect's config validation rejected the connector; ``problems`` lists every field."""

    default_code = ErrorCode.CONNECTOR_FAILED

    def __init__(self, name: str, problems: list[ValidationProblem]):
        detail = "; ".join(f"{p.name}: {' / '.join(p.errors)}" for p in problems)
        super().__init__(f"connector {name} has {len(problems)} invalid field(s): {detail}",
                         hint="fix the settings (or connectors/policies-source.json) "
                              "and run `aegis connectors apply` again")
        self.problems = problems


class ApplyOutcome(str, Enum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


class ApplyResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    outcome: ApplyOutcome
    changed_keys: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)  # e.g. a change topic with fewer partitions than wanted


class ConnectorStatus(BaseModel):
    """The connector, its tasks and its replication slot, as `aegis connectors status` shows them."""

    model_config = ConfigDict(frozen=True)

    name: str
    present: bool
    state: str | None = None
    worker_id: str | None = None
    trace: str | None = None
    tasks: list[TaskState] = Field(default_factory=list)
    slot: SlotInfo | None = None
    slot_error: str | None = None
    """Why the slot could not be read (PostgreSQL unreachable); the connector state is still shown."""

    @property
    def running(self) -> bool:
        return self.state == "RUNNING" and bool(self.tasks) and all(t.state == "RUNNING" for t in self.tasks)

    @property
    def failed_tasks(self) -> list[TaskState]:
        return [t for t in self.tasks if t.state == "FAILED"]

    @property
    def failure_trace(self) -> str:
        """The connector's trace, else the first failed task's (``(no trace)`` when none has one)."""
        return self.trace or next((t.trace for t in self.failed_tasks if t.trace), None) or "(no trace)"


class DeleteResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    connector_deleted: bool
    offsets_reset: bool = False
    slot_dropped: bool = False
    publication_dropped: bool = False


def _client(settings: Settings) -> ConnectClient:
    return ConnectClient(settings.kafka.connect_url, timeout=settings.connector.request_timeout_seconds)


def apply_connector(settings: Settings, *, overrides: dict[str, str] | None = None,
                    config: ConnectorConfig | None = None) -> ApplyResult:
    """Validate, then create or update the connector; a config equal to the stored one changes nothing.

    Raises ``ConnectorInvalid`` listing every invalid field, and ``TerminalError`` when the
    publication does not exist yet (run `aegis db migrate`).
    """
    config = config or load_connector_config(settings, overrides)
    if not publication_exists(settings.postgres):
        raise TerminalError(f"publication {settings.postgres.publication} does not exist",
                            code=ErrorCode.CONNECTOR_FAILED,
                            hint="run `aegis db migrate` (it creates the publication and Debezium's grants)")
    topics = ensure_change_topics(settings)  # partitions; older topics take the largest record too
    warnings = topics.warnings(settings.kafka.change_topic_partitions)
    wanted = {**config.config, "name": config.name}
    with _client(settings) as client:
        current = client.get_config(config.name)
        if current == wanted:
            return ApplyResult(name=config.name, outcome=ApplyOutcome.UNCHANGED, warnings=warnings)
        problems = client.validate(config.connector_class, wanted)
        if problems:
            raise ConnectorInvalid(config.name, problems)
        created = client.put_config(config.name, wanted)
    changed = sorted(k for k in set(wanted) | set(current or {}) if (current or {}).get(k) != wanted.get(k))
    return ApplyResult(name=config.name, outcome=ApplyOutcome.CREATED if created else ApplyOutcome.UPDATED,
                       changed_keys=[] if created else changed, warnings=warnings)


def repartition(settings: Settings, partitions: int, progress: Progress, *, timeout: float = 600.0) -> dict[str, int]:
    """Give the change topic and the DLQ ``partitions`` partitions without breaking any policy's order.

    A key's partition is its hash modulo the count: after the change a policy's next events land in
    another partition than its earlier ones. So first nothing may be left unapplied: the connector
    is paused (no new events), then every sink group must have committed up to the end of every
    partition; only then are partitions added, and the connector resumed (also when anything
    fails on the way). Returns the topics changed with their old counts ({} when none was short).
    """
    wanted = {name: count for name, count in partition_counts(settings).items() if count < partitions}
    if not wanted:
        progress(f"every change topic has {partitions} or more partitions: nothing to do")
        return {}
    topic = settings.sinks.topic(settings.kafka)
    progress(f"pausing connector {settings.connector.name} (no new change events while partitions change)")
    pause_connector(settings)
    try:
        wait_until_state(settings, "PAUSED", timeout=60)
        progress("waiting until every sink group has applied the whole change topic")
        wait_for(lambda: _groups_drained(settings, topic), timeout=timeout, every=2.0, progress=progress,
                 what="draining the sink groups")
        changed = add_partitions(settings, partitions)
        for name, old in sorted(changed.items()):
            progress(f"{name}: {old} -> {partitions} partitions")
    finally:
        progress(f"resuming connector {settings.connector.name}")
        resume_connector(settings)
    return changed


def _groups_drained(settings: Settings, topic: str) -> tuple[bool, str]:
    """Whether every sink group (those of SINKS_GROUP_ID_PREFIX that committed on ``topic``) is at its end."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    from aegis.changestream.groups import group_lag

    behind = {}
    try:  # Kafka unreachable for a moment: asked again at the next turn
        admin = AdminClient(settings.kafka.client_config())
        listing = admin.list_consumer_groups(request_timeout=10).result(timeout=15)
        groups = sorted(g.group_id for g in listing.valid if g.group_id.startswith(settings.sinks.group_id_prefix))
        for group in groups:
            lags = group_lag(settings.kafka, group, topic)
            if any(lag.committed >= 0 for lag in lags):
                behind[group] = sum(lag.behind for lag in lags)
    except (KafkaException, AegisError) as exc:
        return False, f"cannot read the sink groups ({getattr(exc, 'message', exc)})"
    waiting = {group: count for group, count in behind.items() if count}
    if waiting:
        return False, "behind: " + ", ".join(f"{group} {count}" for group, count in waiting.items())
    return True, f"{len(behind)} sink group(s) at the end of {topic}"


def list_connectors(settings: Settings) -> list[str]:
    with _client(settings) as client:
        return client.list_connectors()


def connector_status(settings: Settings, name: str | None = None, *, with_slot: bool = True) -> ConnectorStatus:
    """The connector's and its tasks' states (with a failed task's trace) and the slot's lag."""
    name = name or settings.connector.name
    slot, slot_error = None, None
    if with_slot:
        try:
            slot = slot_info(settings.postgres)
        except TransientError as exc:
            slot_error = exc.message
    with _client(settings) as client:
        try:
            doc = client.status(name)
        except ConnectorNotFound:
            return ConnectorStatus(name=name, present=False, slot=slot, slot_error=slot_error)
    return ConnectorStatus(name=name, present=True, state=doc.connector.state, worker_id=doc.connector.worker_id,
                           trace=doc.connector.trace, tasks=sorted(doc.tasks, key=lambda t: t.id), slot=slot,
                           slot_error=slot_error)


def wait_until_state(settings: Settings, state: str, *, timeout: float = 60.0, name: str | None = None,
                     progress: Progress = lambda _: None, connector_only: bool = False) -> ConnectorStatus:
    """Poll until the connector and all its tasks are in ``state``.

    A FAILED connector or task ends the wait at once with a ``TerminalError`` carrying its trace.
    With ``connector_only`` only the connector's own state counts (stopping one to delete it: a
    task that failed earlier may still be listed, and does not matter any more).
    """
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            status = connector_status(settings, name, with_slot=False)
        except TransientError:
            status = None  # worker restarting or rebalancing: keep waiting
        if status is not None and connector_only:
            if status.state == state:
                return status
        elif status is not None:
            _raise_if_failed(status)
            tasks_ok = all(t.state == state for t in status.tasks) and (bool(status.tasks) or state == "STOPPED")
            if status.state == state and tasks_ok:  # a STOPPED connector has no tasks
                return status
            summary = f"{status.state} tasks={[t.state for t in status.tasks]}" if status.present else "absent"
            if summary != last:
                progress(f"{status.name}: {summary}")
                last = summary
        if time.monotonic() > deadline:
            raise TransientError(f"connector {name or settings.connector.name} not {state} after {timeout:.0f}s "
                                 f"(last: {last})", code=ErrorCode.CONNECTOR_FAILED,
                                 hint="see `aegis connectors status` and the Kafka Connect log")
        time.sleep(0.2)


def wait_until_running(settings: Settings, *, timeout: float = 60.0, name: str | None = None,
                       progress: Progress = lambda _: None) -> ConnectorStatus:
    """Wait until the connector and its task are RUNNING and the task holds the replication slot.

    Kafka Connect reports RUNNING as soon as the task thread starts; the slot becomes active when
    Debezium has connected to it, which is when changes start to flow (a snapshot may still run).
    """
    deadline = time.monotonic() + timeout
    status = wait_until_state(settings, "RUNNING", timeout=timeout, name=name, progress=progress)
    while True:
        slot = slot_info(settings.postgres)
        if slot is not None and slot.active:
            return status.model_copy(update={"slot": slot})
        if time.monotonic() > deadline:
            raise TransientError(f"connector {status.name} is RUNNING but slot {settings.postgres.slot_name} "
                                 f"is {'inactive' if slot else 'absent'} after {timeout:.0f}s",
                                 code=ErrorCode.CONNECTOR_FAILED,
                                 hint="see `aegis connectors status` and the Kafka Connect log")
        _raise_if_failed(connector_status(settings, name, with_slot=False))
        time.sleep(0.2)


def _raise_if_failed(status: ConnectorStatus) -> None:
    if status.state == "FAILED" or status.failed_tasks:
        raise TerminalError(f"connector {status.name} failed: {_first_lines(status.failure_trace)}",
                            code=ErrorCode.CONNECTOR_FAILED,
                            hint="fix the cause, then `aegis connectors restart` (full trace: "
                                 "`aegis connectors status`)")


def restart_connector(settings: Settings, *, only_failed: bool = False, name: str | None = None) -> None:
    """Restart the connector and its tasks (only the failed ones with ``only_failed``)."""
    with _client(settings) as client:
        client.restart(name or settings.connector.name, include_tasks=True, only_failed=only_failed)


def pause_connector(settings: Settings, *, name: str | None = None) -> None:
    with _client(settings) as client:
        client.pause(name or settings.connector.name)


def resume_connector(settings: Settings, *, name: str | None = None) -> None:
    with _client(settings) as client:
        client.resume(name or settings.connector.name)


def delete_connector(settings: Settings, *, drop_replication: bool = False, name: str | None = None,
                     progress: Progress = lambda _: None) -> DeleteResult:
    """Delete the connector. With ``drop_replication`` also reset its stored offsets and drop the
    replication slot and the publication, so nothing is left holding WAL and a later apply starts
    with a fresh snapshot."""
    name = name or settings.connector.name
    offsets_reset = False
    with _client(settings) as client:
        exists = client.get_config(name) is not None
        if exists and drop_replication:
            client.stop(name)
            wait_until_state(settings, "STOPPED", name=name, timeout=120, connector_only=True)
            # resetting reads the whole offsets topic: slow on a busy worker, and safe to repeat
            client.request("DELETE", f"/connectors/{name}/offsets", timeout=OFFSET_RESET_TIMEOUT_SECONDS)
            offsets_reset = True
            progress(f"{name}: stopped, offsets reset")
        deleted = client.delete(name) if exists else False
        if deleted:
            progress(f"{name}: deleted")
    slot_dropped = publication_dropped = False
    if drop_replication:
        slot_dropped = drop_slot(settings.postgres)
        progress(f"slot {settings.postgres.slot_name}: {'dropped' if slot_dropped else 'absent'}")
        publication_dropped = drop_publication(settings.postgres)
        progress(f"publication {settings.postgres.publication}: {'dropped' if publication_dropped else 'absent'}")
    return DeleteResult(name=name, connector_deleted=deleted, offsets_reset=offsets_reset,
                        slot_dropped=slot_dropped, publication_dropped=publication_dropped)


def _first_lines(trace: str, lines: int = 3) -> str:
    return " | ".join(line.strip() for line in trace.strip().splitlines()[:lines])
