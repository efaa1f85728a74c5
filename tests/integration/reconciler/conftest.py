"""Reconciler integration helpers: isolated target corners, policy rows, the CLI, and a WAL tap.

Each module gets its own PostgreSQL database (migrated, dropped afterwards), search alias, Redis key
prefix, Neo4j label namespace and Milvus collection alias (environment variables, read by the CLI as
by the sinks), so rows other suites leave in the stack's database are not this suite's business.
"""

from __future__ import annotations

import secrets

import pytest
from reconciler_it import Aegis, WalTap

from aegis.db import connect
from aegis.settings import Settings, load_settings
from cdc_sinks.registry import build_sink, sink_names
from devstack.postgres import Postgres
from testkit.databases import ensure_database, with_database
from testkit.namespaces import namespace_env


@pytest.fixture(scope="module")
def namespace() -> str:
    return f"rtest{secrets.token_hex(3)}"


@pytest.fixture(scope="module")
def reconcile_database(stack: Settings, namespace: str):
    """A database of this module's own, with the project's schema."""
    ensure_database(with_database(stack, namespace))
    yield namespace
    Postgres(stack).drop_database(namespace)


@pytest.fixture(scope="module")
def reconcile_env(stack: Settings, namespace: str, reconcile_database: str) -> dict[str, str]:
    """What gives this module its own database and corner of each target, and small ranges (several per test)."""
    return {"POSTGRES_DB": reconcile_database, **namespace_env(namespace), "SEARCH_REFRESH_INTERVAL": "100ms",
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
def pg(rsettings: Settings):
    with connect(rsettings.postgres, role="owner", autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def aegis(reconcile_env: dict[str, str]) -> Aegis:
    return Aegis(reconcile_env)


@pytest.fixture
def wal_tap(rsettings: Settings, namespace: str):
    tap = WalTap(rsettings, f"{namespace}_{secrets.token_hex(2)}")
    yield tap
    tap.close()


@pytest.fixture(scope="module", autouse=True)
def drop_target_corners(rsettings: Settings):
    """After the module: delete what it wrote in each target's corner (best effort, never failing a test)."""
    yield
    for name in sink_names():
        try:
            sink = build_sink(name, rsettings)
        except Exception:  # noqa: BLE001 - a target that cannot even be built has nothing of ours
            continue
        try:
            sink.drop_namespace()
        except Exception as exc:  # noqa: BLE001 - cleanup must not hide the test's own result
            print(f"cleanup of {name} failed: {exc}")
        finally:
            sink.close()
