"""A change stream of its own beside the main one: its own connector, slot, publication and topics
(dead-letter topic included).

Tests, benchmarks and the fault suite use it to run a connector in a given encoding profile
(``json`` or ``avro``) or with given connector settings without disturbing the connector every
other suite shares — e.g. two streams of the same table, one per profile, so one set of changes can
be compared in both encodings, or a fresh snapshot that really is fresh. ``isolated_stream``
deletes the connector, drops its slot and publication and deletes its topics afterwards;
``running_connector`` deletes the connector, its slot and its publication (its topics stay, for a
reader still draining them).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterator

from aegis.settings import Settings


def new_tag() -> str:
    """A short random tag naming one isolated stream."""
    return secrets.token_hex(4)


def isolated_settings(settings: Settings, tag: str, *, change_format: str | None = None, database: str | None = None,
                      snapshot_mode: str = "no_data", **connector: object) -> Settings:
    """``settings`` with a connector, slot, publication and topics (dead-letter topic included) named after ``tag``.

    ``change_format`` sets the encoding profile (default: the one of ``settings``); ``database``
    streams another database of the same server; ``snapshot_mode`` defaults to ``no_data`` so rows
    others left behind are not re-read (a test about snapshots asks for ``initial``); further
    keywords are connector settings (e.g. ``heartbeat_interval_ms``).
    """
    pg = settings.postgres.model_copy(update={"slot_name": f"aegis_iso_{tag}", "publication": f"aegis_iso_{tag}",
                                              **({"db": database} if database else {})})
    kafka = settings.kafka.model_copy(update={"topic_prefix": f"iso_{tag}", "topic_dlq": f"iso_{tag}.dlq",
                                              "topic_policy_events": f"iso_{tag}.policy-events"})
    conn = settings.connector.model_copy(update={"name": f"aegis-iso-{tag}", "snapshot_mode": snapshot_mode,
                                                 **connector})
    sinks = settings.sinks.model_copy(update={"policy_topic": None})
    change_events = settings.change_events.model_copy(
        update={"format": change_format} if change_format else {})
    return settings.model_copy(update={"postgres": pg, "kafka": kafka, "connector": conn, "sinks": sinks,
                                       "change_events": change_events})


def isolated_env(settings: Settings) -> dict[str, str]:
    """Environment variables that make another process (``aegis``, pytest, the CLI) use these settings."""
    return {"POSTGRES_DB": settings.postgres.db, "POSTGRES_SLOT_NAME": settings.postgres.slot_name,
            "POSTGRES_PUBLICATION": settings.postgres.publication,
            "KAFKA_TOPIC_PREFIX": settings.kafka.topic_prefix,
            "KAFKA_TOPIC_POLICY_EVENTS": settings.kafka.topic_policy_events,
            "KAFKA_TOPIC_DLQ": settings.kafka.topic_dlq,
            **{f"AEGIS_CONNECTOR_{k.upper()}": str(v) for k, v in settings.connector.model_dump().items()
               if v is not None},
            "CHANGE_EVENTS_FORMAT": settings.change_events.format}


def change_topic(settings: Settings) -> str:
    return settings.sinks.topic(settings.kafka)


@contextlib.contextmanager
def isolated_stream(settings: Settings, *, timeout: float = 120.0) -> Iterator[Settings]:
    """Create the publication, apply the connector and wait until it streams; remove it all afterwards."""
    from aegis.db import connect
    from aegis.db.migrate import ensure_replication_access
    from connectors.manage import apply_connector, delete_connector, wait_until_running

    with connect(settings.postgres, autocommit=True, role="owner") as conn:
        ensure_replication_access(conn, settings.postgres)
    try:
        apply_connector(settings)
        wait_until_running(settings, timeout=timeout)
        yield settings
    finally:
        delete_connector(settings, drop_replication=True)
        delete_topics(settings, stream_topics(settings))


def stream_topics(settings: Settings) -> list[str]:
    """Every topic an isolated stream (and sinks reading it) may create."""
    return [change_topic(settings), settings.kafka.topic_policy_events, settings.kafka.topic_dlq,
            f"__debezium-heartbeat.{settings.kafka.topic_prefix}"]


def delete_topics(settings: Settings, topics: list[str]) -> None:
    """Delete ``topics`` (best effort: absent ones are fine)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({**settings.kafka.client_config()})
    for future in admin.delete_topics(topics, operation_timeout=30).values():
        with contextlib.suppress(Exception):
            future.result(timeout=30)


@contextlib.contextmanager
def running_connector(settings: Settings, *, before_start: Callable[[], None] = lambda: None,
                      overrides: dict[str, str] | None = None) -> Iterator[Settings]:
    """Create the isolated connector's publication, run ``before_start``, apply it (with property
    ``overrides``) and wait until it streams; delete it, its slot and its publication afterwards."""
    from aegis.db import connect
    from aegis.db.migrate import ensure_replication_access
    from connectors.manage import apply_connector, delete_connector, wait_until_running

    with connect(settings.postgres, role="owner", autocommit=True) as conn:
        ensure_replication_access(conn, settings.postgres)
    before_start()
    try:
        apply_connector(settings, overrides=overrides)
        wait_until_running(settings, timeout=90)
        yield settings
    finally:
        delete_connector(settings, drop_replication=True)
