"""Every fault of issue 10 under a steady load: afterwards every target must equal PostgreSQL's
active view (ids, content hashes, LSNs), the DLQ must hold exactly the poison records (each sink,
with reasons), and convergence must take ≤ 30 s after the fault ends. See docs/faults.md."""

from __future__ import annotations

import os

import pytest

from aegis.settings import load_settings
from tests.faults.faults_suite import scenarios

pytestmark = [pytest.mark.faults, pytest.mark.integration]

_STACK = load_settings(env_file=None).stack  # the test slot's (exported by the root conftest)
FAULTS = scenarios(stop_seconds=float(os.environ.get("AEGIS_FAULTS_STOP_SECONDS", "60")),
                   poison=int(os.environ.get("AEGIS_FAULTS_POISON", "100")),
                   brokers=_STACK.kafka_brokers, workers=_STACK.connect_workers)


@pytest.mark.timeout(900)
@pytest.mark.parametrize("fault", FAULTS, ids=[f.name.replace(" ", "-") for f in FAULTS])
def test_fault(fault_suite, fault):
    result = fault_suite.run(fault)
    assert result.passed, f"{fault.name}: {result.detail}"
