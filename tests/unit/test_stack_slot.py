"""The test slot (tests/stack_slot.py): the committed test stack is apart from the default one, and
a slot sharing a port or the state directory with the user's stack is refused."""

from __future__ import annotations

from pathlib import Path

from dotenv import dotenv_values

from aegis.settings import load_settings
from tests.conftest import SLOT
from tests.stack_slot import DEFAULT_ENV_FILE, REPO, StackSlot, _defaults, ports


def _settings(env_file: Path, monkeypatch, **overrides: str):
    for key, value in {**dotenv_values(env_file), **overrides}.items():
        monkeypatch.setenv(key, value)
    return load_settings(env_file=None)


def test_the_committed_test_slot_shares_nothing_with_the_default_stack(monkeypatch):
    test = _settings(DEFAULT_ENV_FILE, monkeypatch)
    assert test.stack.state_path != _defaults().stack.state_path
    assert not set(ports(test)) & set(ports(_defaults()))


def test_a_slot_on_the_users_port_or_state_directory_is_refused(monkeypatch, tmp_path):
    user = _settings(DEFAULT_ENV_FILE, monkeypatch, POSTGRES_PORT="15432", AEGIS_STACK_STATE_DIR=str(tmp_path / "u"))
    slot = StackSlot(DEFAULT_ENV_FILE, {}, {}, user, None)
    colliding = _settings(DEFAULT_ENV_FILE, monkeypatch, AEGIS_STACK_STATE_DIR=str(tmp_path / "u"))
    problems = slot.collisions(colliding)
    assert any("state directory" in p for p in problems)
    assert any(p.startswith("postgres port(s) 15432") for p in problems)
    apart = _settings(DEFAULT_ENV_FILE, monkeypatch, POSTGRES_PORT="14432", AEGIS_STACK_STATE_DIR=str(tmp_path / "t"))
    assert [p for p in slot.collisions(apart) if "postgres" in p or "state" in p] == []


def test_unit_tests_see_the_environment_without_the_slot():
    """The session exported the slot (for integration tests and the processes they start); a unit
    test sees the environment as it was, so defaults are defaults."""
    assert SLOT.exported["AEGIS_STACK_STATE_DIR"].startswith(str(REPO))
    assert load_settings(env_file=None).postgres.port == 25432 or "POSTGRES_PORT" in {
        k for k, v in SLOT.originals.items() if v is not None}
