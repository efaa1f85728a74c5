"""Unit tests need no server: they see the environment as it was before the session exported the
test slot (tests/stack_slot.py), so a default is a default."""

import pytest

from tests.conftest import SLOT


@pytest.fixture(autouse=True)
def _environment_without_the_test_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    SLOT.restore(monkeypatch)
