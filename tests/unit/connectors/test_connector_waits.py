"""Waiting for a connector state: a failed task stops the wait, except when stopping to delete."""

from __future__ import annotations

import pytest

from aegis.errors import TerminalError
from aegis.settings import load_settings
from connectors import manage
from connectors.manage import ConnectorStatus
from connectors.rest import TaskState

STOPPED_WITH_A_FAILED_TASK = ConnectorStatus(
    name="aegis-x", present=True, state="STOPPED",
    tasks=[TaskState(id=0, state="FAILED", trace="ConnectException: Tolerance exceeded in error handler")])


@pytest.fixture
def settings():
    return load_settings(env_file=None)


def test_a_failed_task_ends_the_wait_with_its_trace(settings, monkeypatch):
    monkeypatch.setattr(manage, "connector_status", lambda *a, **k: STOPPED_WITH_A_FAILED_TASK)
    with pytest.raises(TerminalError, match="Tolerance exceeded"):
        manage.wait_until_state(settings, "STOPPED", timeout=1)


def test_stopping_to_delete_only_waits_for_the_connector_itself(settings, monkeypatch):
    monkeypatch.setattr(manage, "connector_status", lambda *a, **k: STOPPED_WITH_A_FAILED_TASK)
    assert manage.wait_until_state(settings, "STOPPED", timeout=1, connector_only=True).state == "STOPPED"
