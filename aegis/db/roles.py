"""Least privilege in PostgreSQL: what each role may do, applied by the migration owner.

Four roles reach the database (``PostgresSettings``):

* **owner** (``POSTGRES_OWNER_USER``) owns the database, every table and the publication; only
  ``aegis db migrate`` and the retention job (which deletes old audit rows and history) connect as it.
* **app** (``POSTGRES_USER``) is the collectors' and the reconciler's: exactly the table privileges
  their statements use (``APP_PRIVILEGES``), no DDL, no TRUNCATE, no DELETE of policies.
* **reader** (``POSTGRES_READER_USER``) is ``aegis status``'s, the exporter's, ``aegis quality
  explain``'s, and ``aegis audit``'s: SELECT on ``READER_TABLES``, and on ``policies`` every column but
  the personal-data ones (``PERSONAL_COLUMNS``: they never leave PostgreSQL unmasked, not even to an
  operator's read).
* **debezium** (``POSTGRES_DEBEZIUM_USER``): REPLICATION and SELECT on the published tables
  (``aegis.db.migrate.ensure_replication_access``).

``apply_grants`` makes the grants exactly these (everything else is revoked first), in one
transaction, every time ``aegis db migrate`` runs; a new table must be listed here, or the roles
cannot use it (a unit test checks that every table the migrations create is).
Roles themselves are cluster objects made by an administrator (the local stack's bootstrap,
``deploy/postgres/init-roles.sh`` in compose, your DBA in production): the owner has no CREATEROLE.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from aegis.settings import PostgresSettings

# Table -> privileges of the application role (collectors/store.py, aegis/events/outbox.py,
# reconciler/*.py). UPDATE and DELETE with a WHERE clause need SELECT as well.
APP_PRIVILEGES: dict[str, tuple[str, ...]] = {
    "policies": ("SELECT", "INSERT", "UPDATE"),  # upsert, promotion, archiving; never DELETE
    "outbox": ("SELECT", "INSERT", "DELETE"),  # insert and delete in one transaction
    "dead_letters": ("SELECT", "INSERT"),
    "pipeline_metadata": ("SELECT", "INSERT", "UPDATE"),
    "processing_history": ("INSERT",),
    "quality_metrics": ("INSERT",),
    "audit_logs": ("SELECT", "INSERT"),  # read by `aegis lineage`; never changed
    "consistency_reports": ("SELECT", "INSERT"),
    "policy_duplicates": ("SELECT", "INSERT", "UPDATE"),
    "policy_sources": ("SELECT", "INSERT", "UPDATE"),  # the collector's unmasked side of each row (never streamed)
    "policy_versions": ("SELECT", "INSERT"),  # written by the policies trigger; read by `aegis lineage`
    "outbox_event_log": ("SELECT", "INSERT"),  # written by the outbox trigger; read by `aegis lineage`
}

# Tables the read-only role reads whole (policies is read column by column, see PERSONAL_COLUMNS).
READER_TABLES: tuple[str, ...] = ("consistency_reports", "quality_metrics", "audit_logs", "policy_duplicates",
                                  "processing_history", "pipeline_metadata", "schema_migrations",
                                  "policy_versions", "outbox_event_log")  # lineage and `aegis audit` read these

# Columns of personal data (seed §6.5) and the raw source payload that holds them: the reader never sees them.
PERSONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "policies": ("contact_email", "contact_phone", "contact_address"),
    "policy_sources": ("raw_data",),  # the unmasked source payload: lineage reads its digest, URL and run
}

# Tables a role deliberately gets nothing of (every table is in one list or the other, for each role).
APP_NOTHING: tuple[str, ...] = ("schema_migrations",)
READER_NOTHING: tuple[str, ...] = ("outbox", "dead_letters")  # dead letters keep raw payloads (personal data)


def apply_grants(conn: psycopg.Connection, pg: PostgresSettings) -> None:
    """Make the app and reader roles' table privileges exactly the lists above (idempotent).

    Runs as the owner of the tables. A role that does not exist yet is skipped (an administrator
    creates roles; `aegis db migrate` grants again on its next run).
    """
    with conn.transaction():
        existing = {row[0] for row in conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)",
                                                   ([pg.user, pg.reader_user],))}
        tables = {row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
        for role in (pg.user, pg.reader_user):
            if role in existing and role != pg.owner_user:
                for kind in ("TABLES", "SEQUENCES"):
                    conn.execute(sql.SQL("REVOKE ALL ON ALL {} IN SCHEMA public FROM {}").format(
                        sql.SQL(kind), sql.Identifier(role)))
        if pg.user in existing and pg.user != pg.owner_user:
            for table, privileges in APP_PRIVILEGES.items():
                if table in tables:
                    conn.execute(sql.SQL("GRANT {} ON {} TO {}").format(
                        sql.SQL(", ").join(sql.SQL(p) for p in privileges), sql.Identifier(table),
                        sql.Identifier(pg.user)))
        if pg.reader_user in existing and pg.reader_user != pg.owner_user:
            for table in READER_TABLES:
                if table in tables:
                    conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(sql.Identifier(table),
                                                                           sql.Identifier(pg.reader_user)))
            for table, personal in PERSONAL_COLUMNS.items():
                if table not in tables:
                    continue
                columns = [row[0] for row in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                    "AND table_name = %s AND NOT (column_name = ANY(%s)) ORDER BY ordinal_position",
                    (table, list(personal)))]
                conn.execute(sql.SQL("GRANT SELECT ({}) ON {} TO {}").format(
                    sql.SQL(", ").join(sql.Identifier(c) for c in columns), sql.Identifier(table),
                    sql.Identifier(pg.reader_user)))


def readable_columns(conn: psycopg.Connection, table: str) -> list[str]:
    """Columns of ``table`` the connected role may SELECT (the reader sees no personal data)."""
    return [row[0] for row in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = %s AND has_column_privilege(quote_ident(table_name), column_name, 'SELECT') "
        "ORDER BY ordinal_position", (table,))]
