"""A PostgreSQL database of a run's own on the stack's server (benchmarks, fault suite, reconciler tests)."""

from __future__ import annotations

from aegis.db import connect
from aegis.db.migrate import migrate
from aegis.settings import Settings


def with_database(settings: Settings, name: str) -> Settings:
    """``settings`` pointing at database ``name`` of the same server."""
    return settings.model_copy(update={"postgres": settings.postgres.model_copy(update={"db": name})})


def ensure_database(settings: Settings) -> None:
    """``settings``' database exists (owned by the application role) with the project's schema migrated."""
    from devstack.postgres import Postgres

    Postgres(settings).bootstrap()
    with connect(settings.postgres, role="owner", autocommit=True) as conn:
        migrate(conn, settings.postgres)
