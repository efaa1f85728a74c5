"""Every table the migrations create is placed for each role: granted, or deliberately withheld."""

import re

from aegis.db.migrate import discover
from aegis.db.roles import APP_NOTHING, APP_PRIVILEGES, PERSONAL_COLUMNS, READER_NOTHING, READER_TABLES


def _created_tables() -> set[str]:
    tables = {"schema_migrations"}
    for migration in discover():
        tables |= {m.lower() for m in re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?([A-Za-z_]+)", migration.sql)}
    return tables


def test_every_table_is_placed_for_the_application_role():
    placed = set(APP_PRIVILEGES) | set(APP_NOTHING)
    assert _created_tables() - placed == set(), "add the new table to APP_PRIVILEGES or APP_NOTHING (aegis/db/roles.py)"
    assert set(APP_PRIVILEGES) & set(APP_NOTHING) == set()


def test_every_table_is_placed_for_the_reader():
    placed = set(READER_TABLES) | set(PERSONAL_COLUMNS) | set(READER_NOTHING)
    assert _created_tables() - placed == set(), "add the new table to READER_TABLES or READER_NOTHING (aegis/db/roles.py)"


def test_the_application_role_never_deletes_policies_nor_changes_history():
    assert "DELETE" not in APP_PRIVILEGES["policies"]
    for table in ("audit_logs", "quality_metrics", "processing_history", "policy_versions", "outbox_event_log"):
        assert set(APP_PRIVILEGES[table]) <= {"SELECT", "INSERT"}, table  # appended and read, never changed
