"""Test session set-up.

Unit tests need nothing. Tests marked ``integration`` get the ``stack`` fixture: the real local
stack, started for the session if it is not already running (and stopped again at the end
only if this session started it), with the schema migrated.
"""

from __future__ import annotations

import os

import pytest

# pymilvus calls python-dotenv's load_dotenv() when imported, which copies the .env it finds (a
# worktree's own ports) into os.environ for the rest of the session: then a test asking for the
# defaults (load_settings(env_file=None)) got the worktree's. Settings read .env themselves.
os.environ.setdefault("PYTHON_DOTENV_DISABLED", "1")

from aegis.settings import Settings, load_settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings(env_file=os.environ.get("AEGIS_TEST_ENV_FILE"))


@pytest.fixture(scope="session")
def stack(settings: Settings):
    from aegis.db import connect
    from aegis.db.migrate import migrate
    from devstack.manager import StackManager

    manager = StackManager(settings)
    was_running = {s.name for s in manager.status() if s.healthy}
    manager.up(progress=lambda line: print(f"[stack] {line}"))
    with connect(settings.postgres, autocommit=True, role="owner") as conn:
        migrate(conn, settings.postgres)
    yield settings
    if not was_running and os.environ.get("AEGIS_TEST_KEEP_STACK") != "1":
        manager.down(progress=lambda line: print(f"[stack] {line}"))
