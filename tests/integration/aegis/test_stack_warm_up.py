"""`aegis stack warm-up` on the test stack: each JIT-compiled target really receives the sink's writes
(counted by the server itself), and every scratch corner is gone afterwards (read with each store's
own client)."""

import httpx
import neo4j
import pytest
from click.testing import CliRunner
from confluent_kafka.admin import AdminClient

from console.cli import cli
from console.ops.warmup import warm_up

pytestmark = pytest.mark.integration


def _indexed_total(http: httpx.Client) -> int:
    nodes = http.get("/_nodes/stats/indices/indexing").json()["nodes"]
    return sum(node["indices"]["indexing"]["index_total"] for node in nodes.values())


def _leftovers(settings, namespaces: list[str]) -> dict[str, list[str]]:
    with httpx.Client(base_url=settings.search.url, timeout=30) as http:
        indices = [name for name in http.get("/_cat/indices", params={"format": "json"}).json()
                   for name in [name["index"]] if any(ns in name for ns in namespaces)]
        aliases = [alias for alias in http.get("/_alias").json() if any(ns in alias for ns in namespaces)]
    n = settings.neo4j
    with neo4j.GraphDatabase.driver(n.bolt_uri, auth=(n.user, n.password.get_secret_value())) as driver:
        records, _, _ = driver.execute_query(
            "MATCH (x) WHERE any(label IN labels(x) WHERE any(ns IN $namespaces WHERE label STARTS WITH ns)) "
            "RETURN count(x) AS n", namespaces=namespaces, database_=n.database)
        schema, _, _ = driver.execute_query("SHOW INDEXES YIELD name", database_=n.database)
    admin = AdminClient(settings.kafka.client_config())
    topics = [t for t in admin.list_topics(timeout=30).topics if t in namespaces]
    groups = [g.group_id for g in admin.list_consumer_groups().result(timeout=30).valid if g.group_id in namespaces]
    return {"opensearch indices": indices, "opensearch aliases": aliases,
            "neo4j nodes": [str(records[0]["n"])] if records[0]["n"] else [],
            "neo4j schema": [r["name"] for r in schema if any(ns in r["name"] for ns in namespaces)],
            "kafka topics": topics, "kafka consumer groups": groups}


def test_the_warm_up_writes_through_each_targets_sink_and_leaves_nothing_behind(stack):
    with httpx.Client(base_url=stack.search.url, timeout=30) as http:
        before = _indexed_total(http)
        results = warm_up(stack, ["opensearch", "neo4j", "kafka"], seconds=8)
        indexed = _indexed_total(http) - before

    assert sorted(r.service for r in results) == ["kafka", "neo4j", "opensearch"]
    for result in results:
        assert result.error is None and result.dropped, result.line()
        assert result.batches >= 1 and result.changes > 0 and result.reads > 0, result.line()
    search = next(r for r in results if r.service == "opensearch")
    assert search.reads >= search.batches, search.line()
    # upserts and removal markers are both index operations; the server counted at least as many
    assert indexed >= search.changes, (indexed, search.line())
    assert _leftovers(stack, [r.namespace for r in results]) == {
        "opensearch indices": [], "opensearch aliases": [], "neo4j nodes": [], "neo4j schema": [],
        "kafka topics": [], "kafka consumer groups": []}


def test_the_cli_warms_only_the_named_server(stack, test_slot):
    result = CliRunner().invoke(cli, ["--env-file", str(test_slot.env_file), "stack", "warm-up", "--seconds", "2",
                                      "neo4j"])
    assert result.exit_code == 0, result.output
    assert "warming up neo4j for 2s" in result.output, result.output
    assert "neo4j: warmed up in" in result.output and "opensearch" not in result.output, result.output
    assert "stopped early" not in result.output and "left over" not in result.output, result.output
