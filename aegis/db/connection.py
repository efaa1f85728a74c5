"""Opening PostgreSQL connections, with psycopg errors translated at the boundary."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import psycopg

if TYPE_CHECKING:
    from psycopg.abc import Params, QueryNoTemplate

from aegis.errors import ErrorCode, TerminalError, TransientError
from aegis.settings import DbRole, PostgresSettings


def connect(pg: PostgresSettings, *, autocommit: bool = False, role: DbRole = "app", **kwargs) -> psycopg.Connection:
    """Connect as ``role`` (``app`` by default: collectors, reconciler; ``reader`` for status and
    metrics reads; ``owner`` for migrations). An unreachable server is a ``TransientError``
    (DP_5004); refused credentials are a ``TerminalError`` naming the role's settings."""
    try:
        return psycopg.connect(pg.conninfo(role=role, **kwargs), autocommit=autocommit)
    except psycopg.OperationalError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        unknown_role = "role \"" in first_line and "does not exist" in first_line
        if "password authentication failed" in first_line or unknown_role:
            user = kwargs.get("user") or pg.credentials(role)[0]
            raise TerminalError(
                f"PostgreSQL at {pg.host}:{pg.port}/{pg.db} refused the {role} role ({user}): {first_line}",
                code=ErrorCode.CONFIG_INVALID,
                hint=f"check POSTGRES_{_ROLE_PREFIX[role]}USER and its password; roles are created by the local "
                     "stack (`aegis stack up postgres`) or an administrator (docs/deploy.md)") from None
        raise TransientError(
            f"cannot connect to PostgreSQL at {pg.host}:{pg.port}/{pg.db}: {first_line}",
            code=ErrorCode.DATABASE_UNAVAILABLE,
            hint="start the local stack with `aegis stack up`, or check POSTGRES_HOST/POSTGRES_PORT",
        ) from None


_ROLE_PREFIX = {"app": "", "owner": "OWNER_", "reader": "READER_", "debezium": "DEBEZIUM_"}


def scalar(conn: psycopg.Connection, query: QueryNoTemplate, params: Params | None = None) -> Any:
    """The one value of a query that always returns one row (``count(*)``, ``pg_current_wal_lsn()``)."""
    row = conn.execute(query, params).fetchone()
    if row is None:  # not for such a query; a coded error rather than a TypeError if it ever happens
        raise TerminalError(f"PostgreSQL returned no row for {query!r:.100}", code=ErrorCode.BATCH_PROCESSING_ERROR)
    return row[0]
