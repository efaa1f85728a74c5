"""Migrations against the real PostgreSQL of the local stack."""

import pytest

from aegis.db import connect
from aegis.db.migrate import PUBLISHED_TABLES, applied_versions, discover, migrate

pytestmark = pytest.mark.integration


def _schema_fingerprint(conn):
    return conn.execute("""
        SELECT table_name, column_name, data_type, is_nullable, column_default
        FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2""").fetchall()


def test_migrate_twice_changes_nothing_the_second_time(stack):
    with connect(stack.postgres, role="owner", autocommit=True) as conn:
        before = _schema_fingerprint(conn)
        assert migrate(conn, stack.postgres) == []
        assert _schema_fingerprint(conn) == before
        assert applied_versions(conn) == [m.version for m in discover()]


def test_cli_migrate_reports_up_to_date(stack):
    from click.testing import CliRunner

    from console.cli import cli

    result = CliRunner().invoke(cli, ["db", "migrate"])
    assert result.exit_code == 0, result.output
    assert "schema is up to date" in result.output


def test_policies_enforce_source_uniqueness_and_known_statuses(stack):
    import psycopg

    with connect(stack.postgres, role="owner") as conn:
        insert = ("INSERT INTO policies (source_system, source_id, title, content, issuing_organization, "
                  "content_hash, status) VALUES (%s, %s, 't', 'c', 'o', repeat('a', 64), %s)")
        conn.execute(insert, ("test-migrations", "dup", "pending_validation"))
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(insert, ("test-migrations", "dup", "pending_validation"))
        conn.rollback()
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(insert, ("test-migrations", "bad-status", "published"))
        conn.rollback()


def test_debezium_role_has_replication_and_reads_only_published_tables(stack):
    pg = stack.postgres
    with connect(pg, role="owner", autocommit=True) as conn:
        assert conn.execute("SELECT rolreplication, rolsuper FROM pg_roles WHERE rolname = %s",
                            (pg.debezium_user,)).fetchone() == (True, False)
        readable = {row[0] for row in conn.execute(
            "SELECT table_name FROM information_schema.role_table_grants "
            "WHERE grantee = %s AND privilege_type = 'SELECT'", (pg.debezium_user,))}
        assert readable == set(PUBLISHED_TABLES)
        writable = conn.execute(
            "SELECT count(*) FROM information_schema.role_table_grants "
            "WHERE grantee = %s AND privilege_type <> 'SELECT'", (pg.debezium_user,)).fetchone()[0]
        assert writable == 0
        published = {row[0] for row in conn.execute(
            "SELECT tablename FROM pg_publication_tables WHERE pubname = %s", (pg.publication,))}
        assert published == set(PUBLISHED_TABLES)
    with connect(pg, user=pg.debezium_user, password=pg.debezium_password) as conn:
        conn.execute("SELECT count(*) FROM policies")
        import psycopg
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM audit_logs")


def test_wal_level_is_logical(stack):
    with connect(stack.postgres, role="owner", autocommit=True) as conn:
        assert conn.execute("SHOW wal_level").fetchone()[0] == "logical"


def test_policies_keep_the_row_digest_the_sinks_store(stack):
    from cdc_sinks.checksums import row_digest

    with connect(stack.postgres, role="owner") as conn:
        conn.execute("INSERT INTO policies (source_system, source_id, title, content, issuing_organization, "
                     "content_hash) VALUES ('it', 'row-digest', 't', 'c', 'o', repeat('f', 64))")
        policy_id, content_hash, digest = conn.execute(
            "SELECT id, content_hash, row_digest FROM policies WHERE source_system = 'it' "
            "AND source_id = 'row-digest'").fetchone()
        assert digest == row_digest(policy_id, content_hash)
        conn.execute("UPDATE policies SET content_hash = repeat('e', 64) WHERE id = %s", (policy_id,))
        assert conn.execute("SELECT row_digest FROM policies WHERE id = %s", (policy_id,)).fetchone()[0] \
            == row_digest(policy_id, "e" * 64)
        conn.rollback()
