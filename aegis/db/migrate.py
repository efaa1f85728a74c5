"""Numbered SQL migrations, applied in order, each once, each in its own transaction.

Files are ``aegis/db/migrations/NNNN_name.sql``. Applied versions are recorded with the
file's checksum in ``schema_migrations``; a recorded migration whose file changed since is an
error (edit history with a new migration, never in place).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import psycopg
from psycopg import sql

from aegis.db.roles import apply_grants
from aegis.errors import ErrorCode, TerminalError
from aegis.settings import PostgresSettings

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

# Tables Debezium streams; the publication covers exactly these.
PUBLISHED_TABLES = ("policies", "outbox")
# 0007 moved raw_data out of policies: the rows stored before it are masked right after it is applied.
PRIVACY_MIGRATION = 7


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover() -> list[Migration]:
    found = []
    for entry in resources.files("aegis.db").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise TerminalError("two migrations share a version number", code=ErrorCode.MIGRATION_FAILED)
    return found


def migrate(conn: psycopg.Connection, pg: PostgresSettings) -> list[Migration]:
    """Apply pending migrations, the replication grants and the roles' grants; return what was applied.

    ``conn`` is the migration owner's (``connect(pg, role="owner")``, or ``migrate_database``).
    """
    with conn.transaction():
        conn.execute("""CREATE TABLE IF NOT EXISTS schema_migrations (
                            version INTEGER PRIMARY KEY, name TEXT NOT NULL,
                            checksum CHAR(64) NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())""")
        # Serialise concurrent `aegis db migrate` runs.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('aegis.schema_migrations'))")
        applied = {v: c for v, c in conn.execute("SELECT version, checksum FROM schema_migrations")}
    done = []
    for migration in discover():
        if migration.version in applied:
            if applied[migration.version].strip() != migration.checksum:
                raise TerminalError(
                    f"migration {migration.version:04d}_{migration.name} changed after it was applied",
                    code=ErrorCode.MIGRATION_FAILED,
                    hint="restore the original file and add a new numbered migration instead")
            continue
        try:
            with conn.transaction():
                conn.execute(migration.sql)
                conn.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                             (migration.version, migration.name, migration.checksum))
        except psycopg.Error as exc:
            raise TerminalError(f"migration {migration.version:04d}_{migration.name} failed: {exc}",
                                code=ErrorCode.MIGRATION_FAILED,
                                hint="nothing of this migration was applied; fix the SQL and run again") from None
        done.append(migration)
    ensure_replication_access(conn, pg)
    apply_grants(conn, pg)
    if any(m.version == PRIVACY_MIGRATION for m in done):
        from aegis.db.backfill import mask_stored_policies

        mask_stored_policies(conn)  # rows stored before the masking policy (docs/privacy.md)
    return done


def ensure_replication_access(conn: psycopg.Connection, pg: PostgresSettings) -> None:
    """The filtered publication over exactly the streamed tables, and SELECT for Debezium's role."""
    with conn.transaction():
        exists = conn.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (pg.publication,)).fetchone()
        tables = sql.SQL(", ").join(sql.Identifier(t) for t in PUBLISHED_TABLES)
        if not exists:
            conn.execute(sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(sql.Identifier(pg.publication), tables))
        role = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (pg.debezium_user,)).fetchone()
        if role:
            conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(tables, sql.Identifier(pg.debezium_user)))


def applied_versions(conn: psycopg.Connection) -> list[int]:
    return [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


def migrate_database(pg: PostgresSettings) -> list[Migration]:
    """Connect as the migration owner and ``migrate``."""
    from aegis.db.connection import connect

    with connect(pg, autocommit=True, role="owner") as conn:
        return migrate(conn, pg)
