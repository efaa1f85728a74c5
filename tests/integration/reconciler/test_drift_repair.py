"""Drift in every real target is found by a dry run, repaired by a normal pass, and gone afterwards.

Targets are filled the way the reconciler repairs them (a normal pass over freshly inserted
active policies); drift is then injected behind the sinks' backs, with each store's own client.
"""

from __future__ import annotations

import secrets

import neo4j
import pytest
from reconciler_it import converge, listed

from cdc_sinks.checksums import row_digest
from cdc_sinks.neo4j.cypher import GraphStatements
from cdc_sinks.neo4j.model import POLICY
from cdc_sinks.registry import build_sink, sink_names
from devstack.manager import StackManager
from reconciler.drift import ActiveView
from testkit.policies import good_policy, insert_policy, sink_record

pytestmark = pytest.mark.integration

POLICIES = 60  # over several 25-id ranges


@pytest.fixture(scope="module")
def policy_ids(pg) -> list[int]:
    batch = secrets.token_hex(3)
    return [insert_policy(pg, good_policy("bizinfo", f"d-{batch}-{i}", status="active", quality_score=0.9,
                                          title=f"드리프트 점검 {batch} 지원사업 {i}"))
            for i in range(POLICIES)]


@pytest.fixture(scope="module")
def rejected_id(pg) -> int:
    return insert_policy(pg, good_policy("gov24", f"d-rejected-{secrets.token_hex(3)}", status="rejected",
                                         quality_score=0.3))


def inject_search(settings, missing: list[int], foreign_id: int) -> None:
    sink = build_sink("search", settings)
    try:
        operations = [{"delete": {"_index": sink.write_alias, "_id": str(i)}} for i in missing]
        operations += [{"index": {"_index": sink.write_alias, "_id": str(foreign_id)}},
                       {"id": foreign_id, "lsn": 1, "content_hash": "f" * 64, "removed": False,
                        "title": "PostgreSQL never had this", "status": "active"}]
        sink.engine.bulk(operations, refresh="true")
    finally:
        sink.close()


def policy_label(settings) -> str:
    return GraphStatements(settings.neo4j.namespace).label(POLICY)


def inject_neo4j_stale(settings, policy_id: int) -> None:
    """The node holds an older version, as a lost update leaves it (with that version's digest)."""
    n = settings.neo4j
    with neo4j.GraphDatabase.driver(n.bolt_uri, auth=(n.user, n.password.get_secret_value())) as driver:
        driver.execute_query(f"MATCH (p:{policy_label(settings)} {{id: $id}}) "
                             "SET p.content_hash = $hash, p.row_digest = $digest, p.title = 'an old title'",
                             id=policy_id, hash="0" * 64, digest=row_digest(policy_id, "0" * 64),
                             database_=n.database)


def neo4j_title(settings, policy_id: int) -> str:
    n = settings.neo4j
    with neo4j.GraphDatabase.driver(n.bolt_uri, auth=(n.user, n.password.get_secret_value())) as driver:
        records, _, _ = driver.execute_query(f"MATCH (p:{policy_label(settings)} {{id: $id}}) RETURN p.title AS title",
                                             id=policy_id, database_=n.database)
    return records[0]["title"]


def inject_redis_orphan(settings, pg, rejected_id: int) -> None:
    """The cache still holds a policy PostgreSQL rejected (its removal never reached Redis)."""
    row = ActiveView(pg).rows([rejected_id])[rejected_id]
    sink = build_sink("redis", settings)
    try:
        sink.upsert_batch([sink_record(row, 1, as_active=True)])
    finally:
        sink.close()


def inject_milvus_missing(settings, policy_id: int) -> None:
    sink = build_sink("milvus", settings)
    try:
        sink.store.run(lambda c: c.delete(sink.collection, ids=[policy_id]), "delete", write=True)
    finally:
        sink.close()


def test_injected_drift_is_listed_by_a_dry_run_repaired_by_a_pass_and_gone(aegis, pg, rsettings, policy_ids,
                                                                          rejected_id):
    converge(aegis)
    targets = set(sink_names())
    foreign_id = 900_000_000 + secrets.randbelow(1000)
    expected = {("search", "missing", policy_ids[3]), ("search", "missing", policy_ids[40]),
                ("search", "orphaned", foreign_id), ("neo4j", "stale", policy_ids[17]),
                ("redis", "orphaned", rejected_id)}
    inject_search(rsettings, [policy_ids[3], policy_ids[40]], foreign_id)
    inject_neo4j_stale(rsettings, policy_ids[17])
    inject_redis_orphan(rsettings, pg, rejected_id)
    if "milvus" in targets:
        inject_milvus_missing(rsettings, policy_ids[29])
        expected.add(("milvus", "missing", policy_ids[29]))

    code, report = aegis.report("--dry-run")
    assert code == 1
    assert listed(report) == expected
    statuses = {t["target"]: t["status"] for t in report["targets"]}
    assert statuses == {name: "drifted" if any(e[0] == name for e in expected) else "consistent" for name in targets}
    details = {(i["target"], i["policy_id"]): i["detail"] for i in report["inconsistencies"]}
    assert "status in PostgreSQL is rejected" in details[("redis", rejected_id)]
    assert "PostgreSQL has no policy" in details[("search", foreign_id)]

    code, report = aegis.report()
    assert code == 0, [(t["target"], t["status"], t["error"]) for t in report["targets"]]
    assert listed(report) == expected
    assert {(f["target"], f["policy_id"], f["action"]) for f in report["fixes_applied"]} == {
        (target, policy_id, "removed" if kind == "orphaned" else "reapplied") for target, kind, policy_id in expected}
    assert {t["target"]: t["status"] for t in report["targets"]} == {
        name: "repaired" if any(e[0] == name for e in expected) else "consistent" for name in targets}

    code, report = aegis.report("--dry-run")
    assert code == 0 and report["inconsistencies"] == []
    assert neo4j_title(rsettings, policy_ids[17]).startswith("드리프트 점검")


def test_a_target_that_is_down_is_unreachable_and_the_others_are_still_reconciled(aegis, rsettings, stack,
                                                                                   policy_ids):
    only = ("--target", "search", "--target", "redis")
    converge(aegis, "search", "redis")
    inject_search(rsettings, [policy_ids[7]], 900_001_000 + secrets.randbelow(1000))
    manager = StackManager(stack)
    manager.down(["redis"])
    try:
        code, report = aegis.report(*only)
    finally:
        manager.up(["redis"])
    by_target = {t["target"]: t for t in report["targets"]}
    assert code == 2
    assert by_target["redis"]["status"] == "unreachable" and "did not answer" in by_target["redis"]["error"]
    assert by_target["redis"]["missing"] == 0 and by_target["redis"]["orphaned"] == 0
    assert by_target["search"]["status"] == "repaired"
    assert (by_target["search"]["missing"], by_target["search"]["orphaned"]) == (1, 1)
    # Back up, Redis is reconciled again (refilled if it restarted empty).
    code, report = aegis.report(*only)
    assert code == 0
    assert {t["target"]: t["status"] for t in report["targets"]}["search"] == "consistent"
