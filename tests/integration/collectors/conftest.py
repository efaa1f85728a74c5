"""Collector integration tests: the real PostgreSQL of the local stack, the sample server over
real HTTP, and a trigger that records every outbox insert (the table itself stays empty)."""

from __future__ import annotations

import pytest

from aegis.db import connect
from collectors.samples.server import SampleServer
from collectors_helpers import CAPTURE_SQL, DROP_CAPTURE_SQL


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
