"""Opening PostgreSQL connections, with psycopg errors translated at the boundary."""

from __future__ import annotations

import psycopg

from aegis.errors import ErrorCode, TransientError
from aegis.settings import PostgresSettings


def connect(pg: PostgresSettings, *, autocommit: bool = False, **kwargs) -> psycopg.Connection:
    """Connect as the application role; an unreachable server is a ``TransientError`` (DP_5004)."""
    try:
        return psycopg.connect(pg.conninfo(**kwargs), autocommit=autocommit)
    except psycopg.OperationalError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TransientError(
            f"cannot connect to PostgreSQL at {pg.host}:{pg.port}/{pg.db}: {first_line}",
            code=ErrorCode.DATABASE_UNAVAILABLE,
            hint="start the local stack with `aegis stack up`, or check POSTGRES_HOST/POSTGRES_PORT",
        ) from None
