"""Avro profile tests: the schema registry is started here (it is optional in the default stack),
and every test streams through an isolated connector of its own (testkit/streams.py), so the
connector other suites share is never switched to Avro."""

from __future__ import annotations

import pytest

from aegis.settings import Settings
from tests.conftest import running_stack


@pytest.fixture(scope="session")
def schema_registry(stack: Settings):
    """The stack plus the schema registry (`aegis stack up schema-registry`), stopped again at the
    end if this session started it."""
    with running_stack(stack, ["schema-registry"]) as running:
        yield running
