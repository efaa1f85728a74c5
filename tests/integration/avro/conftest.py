"""Avro profile tests: the schema registry is started here (it is optional in the default stack),
and every test streams through an isolated connector of its own (connectors/isolated.py), so the
connector other suites share is never switched to Avro."""

from __future__ import annotations

import pytest

from aegis.settings import Settings


@pytest.fixture(scope="session")
def schema_registry(stack: Settings) -> Settings:
    """The stack plus the schema registry (`aegis stack up schema-registry`)."""
    from devstack.manager import StackManager

    StackManager(stack).up(["schema-registry"], progress=lambda line: print(f"[stack] {line}"))
    return stack
