"""Reconciler integration helpers: isolated target corners, policy rows, the CLI, and a WAL tap.

Each module gets its own search alias, Redis key prefix and Milvus collection alias (environment
variables, read by the CLI as by the sinks); Neo4j Community has one database, so its graph is
shared and each test starts by bringing every target in step with one normal pass.
"""

from __future__ import annotations

import secrets

import pytest
from reconciler_it import Aegis, WalTap

from aegis.db import connect
from aegis.settings import Settings, load_settings


@pytest.fixture(scope="module")
def namespace() -> str:
    return f"rtest{secrets.token_hex(3)}"


@pytest.fixture(scope="module")
def reconcile_env(stack: Settings, namespace: str) -> dict[str, str]:
    """What gives this module its own corner of each target, and small ranges (several per test)."""
    return {"SEARCH_INDEX_ALIAS": f"{namespace}-policies", "SEARCH_REFRESH_INTERVAL": "100ms",
            "SINKS_REDIS_KEY_PREFIX": f"{namespace}:policy:", "MILVUS_COLLECTION_ALIAS": f"{namespace}_policies",
            "RECONCILE_RANGE_SIZE": "25", "RECONCILE_PAGE_SIZE": "40", "RECONCILE_VERIFY_DELAY_SECONDS": "0.3"}


@pytest.fixture(scope="module")
def rsettings(reconcile_env: dict[str, str]) -> Settings:
    mp = pytest.MonkeyPatch()
    for key, value in reconcile_env.items():
        mp.setenv(key, value)
    try:
        return load_settings(env_file=None)
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def pg(stack: Settings):
    with connect(stack.postgres, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def aegis(reconcile_env: dict[str, str]) -> Aegis:
    return Aegis(reconcile_env)


@pytest.fixture
def wal_tap(stack: Settings, namespace: str):
    tap = WalTap(stack, f"{namespace}_{secrets.token_hex(2)}")
    yield tap
    tap.close()
