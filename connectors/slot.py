"""The PostgreSQL side of the change stream: the replication slot and the publication.

The slot holds WAL until Debezium confirms it; its lag in bytes is what to watch. Dropping the
connector without dropping the slot leaves PostgreSQL keeping WAL for ever, so ``drop_slot``
exists and ``aegis connectors delete --drop-slot`` calls it.
"""

from __future__ import annotations

import time

import psycopg
from psycopg import sql
from pydantic import BaseModel, ConfigDict

from aegis.db import connect
from aegis.errors import ErrorCode, TerminalError
from aegis.settings import PostgresSettings


class SlotInfo(BaseModel):
    """One row of ``pg_replication_slots`` with the lags computed on the server."""

    model_config = ConfigDict(frozen=True)

    slot_name: str
    plugin: str | None
    active: bool
    active_pid: int | None
    restart_lsn: str | None
    confirmed_flush_lsn: str | None
    confirmed_flush_lsn_int: int | None
    lag_bytes: int | None
    """WAL written since the last change Debezium confirmed (``pg_current_wal_lsn() - confirmed_flush_lsn``)."""
    retained_bytes: int | None
    """WAL the server keeps for this slot (``pg_current_wal_lsn() - restart_lsn``)."""
    wal_status: str | None


_SLOT_QUERY = """
SELECT slot_name, plugin, active, active_pid, restart_lsn::text, confirmed_flush_lsn::text,
       pg_wal_lsn_diff(confirmed_flush_lsn, '0/0')::bigint,
       pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint,
       pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint,
       wal_status
  FROM pg_replication_slots WHERE slot_name = %s"""


def slot_info(pg: PostgresSettings) -> SlotInfo | None:
    """The connector's slot (``POSTGRES_SLOT_NAME``), or None when it does not exist."""
    with connect(pg, autocommit=True, role="reader") as conn:
        row = conn.execute(_SLOT_QUERY, (pg.slot_name,)).fetchone()
    if row is None:
        return None
    fields = ("slot_name", "plugin", "active", "active_pid", "restart_lsn", "confirmed_flush_lsn",
              "confirmed_flush_lsn_int", "lag_bytes", "retained_bytes", "wal_status")
    return SlotInfo(**dict(zip(fields, row, strict=True)))


def publication_exists(pg: PostgresSettings) -> bool:
    with connect(pg, autocommit=True, role="reader") as conn:
        return conn.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (pg.publication,)).fetchone() is not None


def drop_slot(pg: PostgresSettings, *, wait_seconds: float = 30.0) -> bool:
    """Drop the slot once no connector holds it; False when it did not exist.

    Runs as Debezium's role (it has REPLICATION, which dropping a slot needs). A slot still
    active after ``wait_seconds`` means a connector is still streaming from it: ``TerminalError``.
    """
    deadline = time.monotonic() + wait_seconds
    with connect(pg, autocommit=True, role="debezium") as conn:
        while True:
            row = conn.execute("SELECT active FROM pg_replication_slots WHERE slot_name = %s",
                               (pg.slot_name,)).fetchone()
            if row is None:
                return False
            if not row[0]:
                try:
                    conn.execute("SELECT pg_drop_replication_slot(%s)", (pg.slot_name,))
                    return True
                except psycopg.errors.ObjectInUse:
                    pass  # a connector grabbed it between the check and the drop: wait again
                except psycopg.errors.UndefinedObject:
                    return False
            if time.monotonic() > deadline:
                raise TerminalError(f"replication slot {pg.slot_name} is still in use after {wait_seconds:.0f}s",
                                    code=ErrorCode.CONNECTOR_FAILED,
                                    hint="another connector streams from it: delete that connector first "
                                         "(`aegis connectors list`)")
            time.sleep(0.25)


def drop_publication(pg: PostgresSettings) -> bool:
    """Drop the publication (as its owner, the migration owner role); False when it did not exist.

    `aegis db migrate` creates it again.
    """
    with connect(pg, autocommit=True, role="owner") as conn:
        existed = conn.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (pg.publication,)).fetchone()
        conn.execute(sql.SQL("DROP PUBLICATION IF EXISTS {}").format(sql.Identifier(pg.publication)))
    return existed is not None
