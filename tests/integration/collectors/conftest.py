"""Collector integration tests: the real PostgreSQL of the local stack, the sample server over
real HTTP, and a trigger that records every outbox insert (the table itself stays empty).

Collectors only ever write to PostgreSQL, so only PostgreSQL is started for them (``stack``);
the test that follows the largest record to every target asks for the whole stack itself.
"""

from __future__ import annotations

import os

import pytest

from aegis.db import connect
from collectors.samples.server import SampleServer
from collectors_helpers import CAPTURE_SQL, DROP_CAPTURE_SQL


@pytest.fixture(scope="session")
def stack(settings):
    """Overrides the root ``stack``: PostgreSQL only (started if needed, stopped again if we started it)."""
    from aegis.db.migrate import migrate_database
    from devstack.manager import StackManager

    manager = StackManager(settings)
    was_running = {s.name for s in manager.status(["postgres"]) if s.healthy}
    manager.up(["postgres"], progress=lambda line: print(f"[stack] {line}"))
    migrate_database(settings.postgres)
    yield settings
    if "postgres" not in was_running and os.environ.get("AEGIS_TEST_KEEP_STACK") != "1":
        manager.down(["postgres"], progress=lambda line: print(f"[stack] {line}"))


@pytest.fixture(scope="module")
def db(stack):
    with connect(stack.postgres, role="owner", autocommit=True) as conn:
        conn.execute(CAPTURE_SQL)
        yield conn
        conn.execute(DROP_CAPTURE_SQL)


@pytest.fixture(scope="module")
def sample_server():
    with SampleServer() as server:
        yield server
