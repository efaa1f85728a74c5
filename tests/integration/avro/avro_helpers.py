"""Helpers of the Avro integration tests: a scratch database on the stack's PostgreSQL, and waiting
for a sink to mirror PostgreSQL's active view."""

from __future__ import annotations

import contextlib
import time
from typing import Iterator

from aegis.db import connect
from aegis.db.migrate import discover
from aegis.settings import Settings
from devstack.postgres import Postgres
from cdc_sinks.base import Sink


@contextlib.contextmanager
def scratch_database(settings: Settings, name: str, *, up_to_version: int) -> Iterator[Settings]:
    """A new database owned by the migration owner with migrations ``< up_to_version`` applied
    (as `aegis db migrate` records them); dropped afterwards."""
    scratch = settings.model_copy(update={"postgres": settings.postgres.model_copy(update={"db": name})})
    Postgres(scratch).bootstrap()
    try:
        with connect(scratch.postgres, autocommit=True, role="owner") as conn:
            conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                         " checksum CHAR(64) NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
            for migration in discover():
                if migration.version < up_to_version:
                    with conn.transaction():
                        conn.execute(migration.sql)
                        conn.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                                     (migration.version, migration.name, migration.checksum))
        yield scratch
    finally:
        Postgres(settings).drop_database(name)


def active_view(settings: Settings, ids: list[int]) -> dict[int, str]:
    with connect(settings.postgres, role="owner", autocommit=True) as conn:
        rows = conn.execute("SELECT id, content_hash FROM policies WHERE id = ANY(%s) AND status = 'active'",
                            (ids,)).fetchall()
    return {row[0]: row[1].strip() for row in rows}


def stored_view(sink: Sink) -> dict[int, str]:
    return {v.policy_id: v.content_hash for v in sink.read_back(0, 10_000)}


def wait_mirrored(settings: Settings, sink: Sink, ids: list[int], timeout: float = 90.0) -> dict[int, str]:
    """Until the sink holds exactly PostgreSQL's active view of ``ids``; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        expected, stored = active_view(settings, ids), stored_view(sink)
        if stored == expected or time.monotonic() > deadline:
            assert stored == expected, f"sink never mirrored PostgreSQL: expected {expected}, stored {stored}"
            return stored
        time.sleep(0.5)
