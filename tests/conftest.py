"""Test session set-up.

Every session runs on the test slot (``tests/stack_slot.py``): the stack described by
``AEGIS_TEST_ENV_FILE`` (default ``tests/stack-test.env``: state directory ``.stack-test``, ports
1xxxx), exported into the session's environment so that every settings tree and every ``aegis``
process a test starts uses it. The user's stack — the repository's ``.env`` or the defaults — is
never touched; a slot that shares a state directory or a port with it is refused.

Unit tests need nothing (and see the environment as it was). Tests marked ``integration`` get the
``stack`` fixture: the real test stack, started for the session if it is not already running (and
stopped again at the end only if this session started it), with the schema migrated.

A session that leaves the test stack running (it was running before, or AEGIS_TEST_KEEP_STACK=1)
leaves it warm: the JIT-compiled servers it started or restarted (a target-down test restarts
OpenSearch and Neo4j, without ``aegis stack up``'s warm-up) are warmed up at the end, as ``aegis stack
up`` would have (AEGIS_STACK_WARM_UP_SECONDS; 0 skips it). A benchmark run next then measures the
stack, not the compilers catching up with what the tests restarted. Before that, if integration
tests ran, Milvus is settled (``aegis stack settle``): what the tests wrote is sealed, compacted and
indexed now, not ten minutes after their last write, under whatever runs next.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest

# pymilvus calls python-dotenv's load_dotenv() when imported, which copies the .env it finds (a
# worktree's own ports) into os.environ for the rest of the session: then a test asking for the
# defaults (load_settings(env_file=None)) got the worktree's. Settings read .env themselves.
os.environ.setdefault("PYTHON_DOTENV_DISABLED", "1")

from aegis.settings import Settings, load_settings
from tests.stack_slot import SlotCollision, StackSlot, check_ports_free

SLOT = StackSlot.activate()
_jit_pids_at_start: dict[str, int | None] = {}
SETTLE_SECONDS = 300.0
"""Bound on settling Milvus at the session's end."""


def _jit_server_pids() -> dict[str, int | None]:
    """The test stack's JIT-compiled servers and their pids (None: not running)."""
    from devstack.manager import StackManager

    manager = StackManager(load_settings(env_file=SLOT.env_file))
    return {s.name: manager.pid(s) for s in manager.services if s.compiled_while_running}


def pytest_sessionstart(session: pytest.Session) -> None:
    _jit_pids_at_start.update(_jit_server_pids())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Leave the test stack quiet and warm when this session leaves it running: settle Milvus after the
    integration tests' writes, then warm up the JIT-compiled servers this session started or restarted."""
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        return
    terminal = session.config.pluginmanager.get_plugin("terminalreporter")
    say = terminal.write_line if terminal is not None else print
    settings = load_settings(env_file=SLOT.env_file)
    if any(item.get_closest_marker("integration") for item in session.items):
        _settle_milvus(settings, say)
    restarted = [name for name, pid in _jit_server_pids().items()
                 if pid is not None and pid != _jit_pids_at_start.get(name)]
    if not restarted or not settings.stack.warm_up_seconds:
        return
    from console.ops.warmup import warm_up, warmed_services

    cold = warmed_services(settings, restarted)
    if not cold:
        return
    say(f"[stack] the tests leave {', '.join(cold)} running, started or restarted without a warm-up")
    warm_up(settings, cold, settings.stack.warm_up_seconds, progress=lambda line: say(f"[stack] {line}"))


def _settle_milvus(settings: Settings, say) -> None:
    """Seal, compact and index now what the tests wrote to a Milvus they leave running: by itself
    Milvus starts that work ten minutes after the last write, under whatever runs next."""
    from aegis.errors import AegisError
    from console.ops.settle import settle_milvus
    from devstack.manager import StackManager

    manager = StackManager(settings)
    if manager.pid(manager.select(["milvus"])[0]) is None:
        return
    say("[stack] the tests leave milvus running: settling what they wrote")
    try:
        settle_milvus(settings.milvus, SETTLE_SECONDS, progress=lambda line: say(f"[stack] {line}"))
    except AegisError as exc:
        say(f"[stack] milvus: not settled: {exc}")


@pytest.fixture(scope="session")
def test_slot() -> StackSlot:
    return SLOT


@pytest.fixture(scope="session")
def settings() -> Settings:
    settings = load_settings(env_file=SLOT.env_file)
    try:
        SLOT.check_apart(settings)
    except SlotCollision as exc:
        pytest.exit(str(exc), returncode=2)
    return settings


@contextlib.contextmanager
def running_stack(settings: Settings, names: list[str] | None = None) -> Iterator[Settings]:
    """The test stack's ``names`` (default: every default service) running (and PostgreSQL migrated); on exit
    stops what this call started (unless AEGIS_TEST_KEEP_STACK=1)."""
    from aegis.db.migrate import migrate_database
    from devstack.manager import StackManager

    manager = StackManager(settings)
    was_running = {s.name for s in manager.status(names) if s.healthy}
    try:
        check_ports_free(settings, names)
    except SlotCollision as exc:
        pytest.exit(str(exc), returncode=2)
    manager.up(names, progress=lambda line: print(f"[stack] {line}"))
    if names is None or "postgres" in names:
        migrate_database(settings.postgres)
    try:
        yield settings
    finally:
        started = [s.name for s in manager.select(names) if s.name not in was_running]
        if started and os.environ.get("AEGIS_TEST_KEEP_STACK") != "1":
            manager.down(started, progress=lambda line: print(f"[stack] {line}"))


@pytest.fixture(scope="session")
def stack(settings: Settings):
    with running_stack(settings) as running:
        yield running
