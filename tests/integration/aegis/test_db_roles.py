"""Least privilege in PostgreSQL, proved on the real server: each role does what its component needs,
and is refused what it must not do (docs/deploy.md)."""

from __future__ import annotations

import psycopg
import pytest

from aegis.db import connect
from aegis.db.roles import PERSONAL_COLUMNS

pytestmark = pytest.mark.integration

REFUSED = (psycopg.errors.InsufficientPrivilege,)

_INSERT_POLICY = ("INSERT INTO policies (source_system, source_id, title, content, issuing_organization, content_hash) "
                  "VALUES ('it-roles', %s, 't', 'c', 'o', repeat('a', 64)) RETURNING id")


def _refused(conn: psycopg.Connection, statement: str, params: tuple = ()) -> None:
    """``statement`` must be refused for lack of privilege (run in a transaction rolled back after)."""
    with pytest.raises(REFUSED):
        with conn.transaction():
            conn.execute(statement, params)


@pytest.fixture
def policy_id(stack):
    with connect(stack.postgres, role="owner", autocommit=True) as conn:
        conn.execute("DELETE FROM policies WHERE source_system = 'it-roles'")
        found = conn.execute(_INSERT_POLICY, ("fixture",)).fetchone()[0]
    yield found
    with connect(stack.postgres, role="owner", autocommit=True) as conn:
        conn.execute("DELETE FROM policies WHERE source_system = 'it-roles'")


def test_no_role_is_superuser_and_only_debezium_replicates(stack):
    pg = stack.postgres
    with connect(pg, role="owner", autocommit=True) as conn:
        rows = {name: (sup, createrole, createdb, replication) for name, sup, createrole, createdb, replication
                in conn.execute("SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolreplication FROM pg_roles "
                                "WHERE rolname = ANY(%s)",
                                ([pg.owner_user, pg.user, pg.reader_user, pg.debezium_user],))}
        owner_of_db = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                                   (pg.db,)).fetchone()[0]
        table_owners = {row[0] for row in conn.execute(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")}
    assert rows[pg.owner_user] == (False, False, False, False)
    assert rows[pg.user] == (False, False, False, False)
    assert rows[pg.reader_user] == (False, False, False, False)
    assert rows[pg.debezium_user] == (False, False, False, True)
    assert owner_of_db == pg.owner_user
    assert table_owners == {pg.owner_user}


def test_app_role_writes_what_collectors_and_the_reconciler_write_and_nothing_else(stack, policy_id):
    with connect(stack.postgres, role="app") as conn:
        # what a collector does: upsert, outbox insert + delete, a dead letter, bookkeeping
        new_id = conn.execute(_INSERT_POLICY, ("app-insert",)).fetchone()[0]
        conn.execute("UPDATE policies SET status = 'active', quality_score = 0.9 WHERE id = %s", (new_id,))
        outbox_id = conn.execute("INSERT INTO outbox (aggregateid, type, schema_version, payload) "
                                 "VALUES (%s, 'policy.validated', '1', '{}') RETURNING id", (str(new_id),)).fetchone()[0]
        conn.execute("DELETE FROM outbox WHERE id = %s", (outbox_id,))
        conn.execute("INSERT INTO audit_logs (entity_type, entity_id, action) VALUES ('policy', %s, 'it')", (str(new_id),))
        conn.rollback()

        _refused(conn, "DELETE FROM policies WHERE id = %s", (policy_id,))
        _refused(conn, "TRUNCATE policies CASCADE")
        _refused(conn, "CREATE TABLE it_roles_app (x int)")
        _refused(conn, "ALTER TABLE policies ADD COLUMN it_roles text")
        _refused(conn, "DROP TABLE audit_logs")
        _refused(conn, "SELECT * FROM schema_migrations")
        _refused(conn, "DELETE FROM schema_migrations")
        _refused(conn, "UPDATE audit_logs SET action = 'forged'")
        _refused(conn, "DELETE FROM dead_letters")
        _refused(conn, "DROP PUBLICATION IF EXISTS " + stack.postgres.publication)
        _refused(conn, "CREATE ROLE it_roles_intruder")


def test_reader_role_reads_status_and_never_personal_data_or_writes(stack, policy_id):
    with connect(stack.postgres, role="reader") as conn:
        assert conn.execute("SELECT count(*) FROM policies WHERE id = %s", (policy_id,)).fetchone()[0] == 1
        conn.execute("SELECT status, source_system, quality_score, title FROM policies LIMIT 1")
        conn.execute("SELECT count(*) FROM consistency_reports")
        conn.rollback()

        for table, columns in PERSONAL_COLUMNS.items():
            for column in columns:
                _refused(conn, f"SELECT {column} FROM {table} LIMIT 1")
        _refused(conn, "SELECT * FROM policies LIMIT 1")
        _refused(conn, "SELECT * FROM dead_letters")  # raw payloads
        _refused(conn, "SELECT * FROM outbox")
        _refused(conn, "UPDATE policies SET status = 'archived' WHERE id = %s", (policy_id,))
        _refused(conn, _INSERT_POLICY, ("reader-insert",))
        _refused(conn, "DELETE FROM policies WHERE id = %s", (policy_id,))
        _refused(conn, "INSERT INTO audit_logs (entity_type, entity_id, action) VALUES ('policy', '1', 'forged')")
        _refused(conn, "CREATE TABLE it_roles_reader (x int)")


def test_debezium_role_only_reads_the_published_tables(stack, policy_id):
    with connect(stack.postgres, role="debezium") as conn:
        conn.execute("SELECT contact_email FROM policies WHERE id = %s", (policy_id,))  # it streams whole rows
        conn.rollback()
        _refused(conn, "UPDATE policies SET title = 'forged' WHERE id = %s", (policy_id,))
        _refused(conn, _INSERT_POLICY, ("debezium-insert",))
        _refused(conn, "SELECT * FROM dead_letters")
        _refused(conn, "SELECT * FROM quality_metrics")
        _refused(conn, "CREATE TABLE it_roles_debezium (x int)")


def test_owner_migrates_but_cannot_create_roles_or_replicate(stack):
    with connect(stack.postgres, role="owner") as conn:
        conn.execute("CREATE TABLE it_roles_owner (x int)")  # DDL is the owner's job
        conn.rollback()
        _refused(conn, "CREATE ROLE it_roles_intruder")
        _refused(conn, "SELECT pg_create_logical_replication_slot('it_roles_slot', 'pgoutput')")


def test_status_exporter_and_explain_work_as_the_reader(stack, policy_id):
    """The read-only components really run as the reader (and are not refused by their own role)."""
    from console.ops.exporter import PipelineExporter
    from console.ops.status import PipelineStatus, _postgres_part
    from reconciler.explain import explain_policy

    status = PipelineStatus(sinks=[])
    _postgres_part(stack, status)
    assert status.policies_by_status and not status.attention, status.attention
    with connect(stack.postgres, role="reader", autocommit=True) as conn:
        PipelineExporter(stack)._read(conn)  # every query of the exporter, as the reader
        explained = explain_policy(conn, policy_id)
    assert explained.policy_id == policy_id and explained.title == "t"
