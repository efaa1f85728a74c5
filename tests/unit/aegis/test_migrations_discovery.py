import re

from aegis.db.migrate import discover


def test_migrations_are_numbered_in_order_without_gaps():
    migrations = discover()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))


def test_seed_tables_use_postgres_index_syntax():
    sql = "\n".join(m.sql for m in discover())
    for table in ("policies", "outbox", "dead_letters", "pipeline_metadata", "processing_history",
                  "quality_metrics", "audit_logs"):
        assert re.search(rf"CREATE TABLE {table} \(", sql), table
    assert not re.search(r"^\s*INDEX\s+\w+\s*\(", sql, re.MULTILINE), "MySQL inline INDEX syntax"
