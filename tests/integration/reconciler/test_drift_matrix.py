"""Every drift kind in every target, made by hand through the target's own client.

For each target: drift of every kind is made through its own client (``testkit.native``), a dry
run lists exactly those ids with their kinds, a pass repairs them, a re-read through the same
native client shows the target equal to PostgreSQL, and a second dry run is clean. A wiped target
is listed id by id and refilled.
"""

from __future__ import annotations

import json
import secrets

import pytest
from reconciler_it import converge, listed

from cdc_sinks.registry import sink_names
from testkit.native import NATIVE
from testkit.policies import good_policy, insert_policy

pytestmark = pytest.mark.integration

POLICIES = 40  # two ranges of 25 ids
KINDS = ("missing", "stale", "content", "metadata", "partial")


@pytest.fixture(scope="module")
def policy_ids(pg) -> list[int]:
    batch = secrets.token_hex(3)
    return [insert_policy(pg, good_policy("bizinfo", f"m-{batch}-{i}", status="active", quality_score=0.9,
                                          title=f"드리프트 행렬 {batch} 지원사업 {i}"))
            for i in range(POLICIES)]


@pytest.fixture
def native(request, rsettings):
    client = NATIVE[request.param](rsettings)
    yield client
    client.close()


def postgres_fields(pg, policy_id: int) -> dict:
    row = pg.execute("SELECT title, content, content_hash FROM policies WHERE id = %s", (policy_id,)).fetchone()
    return {"title": row[0], "content": row[1], "content_hash": row[2].strip()}


def assert_equal_to_postgres(name: str, native, pg, policy_id: int) -> None:
    """The native read of one repaired record against PostgreSQL's row, field by field."""
    held, want = native.read(policy_id), postgres_fields(pg, policy_id)
    assert held is not None, f"{name} does not hold {policy_id} after the repair"
    assert held["title"] == want["title"] and held["content_hash"] == want["content_hash"], (held, want)
    if name in ("search", "redis"):  # these two hold the text as PostgreSQL has it
        assert held["content"] == want["content"]
    if name == "redis":
        assert held["in_id_set"]
    if name == "neo4j":
        assert held["edges"] > 0
    if name == "milvus":
        assert abs(held["norm"] - 1.0) < 1e-3


@pytest.mark.parametrize("native", sink_names(), indirect=True)
def test_every_drift_kind_is_listed_repaired_and_verified_by_a_native_read(native, aegis, pg, policy_ids):
    name = native.name
    converge(aegis, name, deep=True)
    by_kind = dict(zip(KINDS, policy_ids[1:]))
    foreign = 800_000_000 + secrets.randbelow(1_000_000)
    for kind, policy_id in by_kind.items():
        getattr(native, kind)(policy_id)
    if name == "milvus":
        native.orphan(foreign, like=policy_ids[10])
    else:
        native.orphan(foreign)
    expected = {(name, kind, policy_id) for kind, policy_id in by_kind.items()} | {(name, "orphaned", foreign)}

    code, report = aegis.report("--dry-run", "--deep", "--target", name)
    assert code == 1, json.dumps(report["targets"])
    assert listed(report) == expected

    code, report = aegis.report("--deep", "--target", name)
    [target] = report["targets"]
    assert code == 0 and target["status"] == "repaired", json.dumps([target, report["fixes_applied"]])
    assert target["repaired"] == len(expected) and target["repair_failed"] == 0
    assert {(f["policy_id"], f["action"]) for f in report["fixes_applied"]} == (
        {(policy_id, "reapplied") for policy_id in by_kind.values()} | {(foreign, "removed")})

    audited = pg.execute("SELECT entity_id::bigint, metadata->>'fix' FROM audit_logs WHERE action = 'repaired' "
                         "AND metadata->>'run_id' = %s", (report["run_id"],)).fetchall()
    assert sorted(audited) == sorted((f["policy_id"], f["action"]) for f in report["fixes_applied"])
    for policy_id in by_kind.values():
        assert_equal_to_postgres(name, native, pg, policy_id)
    assert native.read(foreign) is None

    code, report = aegis.report("--dry-run", "--deep", "--target", name)
    assert code == 0 and report["inconsistencies"] == [], report["inconsistencies"][:5]


@pytest.mark.parametrize("native", sink_names(), indirect=True)
def test_a_wiped_target_is_listed_id_by_id_and_refilled(native, aegis, pg, policy_ids):
    name = native.name
    converge(aegis, name)
    native.wipe()
    active = {row[0] for row in pg.execute("SELECT id FROM policies WHERE status = 'active'")}

    code, report = aegis.report("--dry-run", "--target", name)
    assert code == 1, json.dumps(report["targets"])
    assert listed(report) == {(name, "wiped", policy_id) for policy_id in active}

    code, report = aegis.report("--target", name)
    [target] = report["targets"]
    assert code == 0 and target["status"] == "repaired" and target["repaired"] == len(active), target
    for policy_id in policy_ids[:3]:
        assert_equal_to_postgres(name, native, pg, policy_id)
    code, report = aegis.report("--dry-run", "--deep", "--target", name)
    assert code == 0 and report["inconsistencies"] == []
