"""The Neo4j graph sink against the real local Neo4j: the graph a handful of real-shaped policies
become, edges replaced on update, orphans removed on delete, the LSN guard, read-back paging and
error translation. The sink is driven directly with ``SinkRecord``s (the runtime and Kafka are
covered by the conformance suite)."""

from __future__ import annotations

import socket
from contextlib import closing
from datetime import date, datetime, timezone

import neo4j
import pytest

from aegis.errors import TerminalError, TransientError
from cdc_sinks.base import FINAL_LSN, PolicyDocument, Removal, Sink, SinkRecord
from cdc_sinks.neo4j.model import DIMENSION_LABELS
from cdc_sinks.neo4j.sink import Neo4jSink

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def graph_driver(stack):
    settings = stack.neo4j
    driver = neo4j.GraphDatabase.driver(settings.bolt_uri,
                                        auth=(settings.user, settings.password.get_secret_value()))
    yield driver
    driver.close()


@pytest.fixture(scope="module")
def ready_sink(stack):
    sink = Neo4jSink(stack.neo4j)
    sink.ensure_ready()
    yield sink
    sink.close()


@pytest.fixture
def sink(stack, ready_sink, graph_driver):
    """The sink over an empty graph (the default namespace's nodes deleted, constraints kept)."""
    with graph_driver.session(database=stack.neo4j.database) as session:
        for label in ready_sink.statements.labels:  # in chunks: a shared stack may hold millions of markers
            session.run(f"MATCH (n:{label}) CALL (n) {{ DETACH DELETE n }} IN TRANSACTIONS OF 5000 ROWS").consume()
    return ready_sink


def query(driver, cypher: str, **params) -> list[dict]:
    records, _, _ = driver.execute_query(cypher, params)
    return [r.data() for r in records]


def edges(driver, policy_id: int) -> set[tuple[str, str, str]]:
    rows = query(driver, "MATCH (:Policy {id: $id})-[r]->(d) RETURN type(r) AS t, labels(d)[0] AS l, d.name AS n",
                 id=policy_id)
    return {(r["t"], r["l"], r["n"]) for r in rows}


def node_names(driver, label: str) -> list[str]:
    return [r["n"] for r in query(driver, f"MATCH (d:{label}) RETURN d.name AS n ORDER BY n")]


# Real-shaped policies (formats.md): Bizinfo, K-Startup, 온통청년 and 보조금24 spell the same agencies
# and regions differently.
BIZINFO_EXPORT = PolicyDocument(
    id=101, source_system="bizinfo", source_id="PBLN_000000000127023",
    title="2026년 수출바우처사업 참여기업 모집 공고", content="수출 초보기업 지원",
    issuing_organization="중소벤처기업부", executing_organization="(재)중소기업진흥공단",
    target_regions=["서울", "경기", "인천"], target_group="중소기업", support_field="수출",
    funding_type="바우처", application_start_date=date(2026, 1, 5), application_end_date=date(2026, 2, 27),
    updated_at=datetime(2026, 1, 6, 9, 30, 15, 123456, tzinfo=timezone.utc),
    original_url="https://www.bizinfo.go.kr/web/lay1/bbs/S1T122C128/AS/74/view.do?pblancId=PBLN_000000000127023",
    contact_email="ex***@kosmes.or.kr", status="active")
KSTARTUP_PRESTART = PolicyDocument(
    id=102, source_system="kstartup", source_id="174652",
    title="2026년 예비창업패키지 예비창업자 모집", content="혁신 아이디어 사업화",
    issuing_organization="중소 벤처기업부", executing_organization="창업진흥원",
    target_regions=["서울특별시", "부산광역시"], target_group="예비창업자, 청년", support_field="사업화",
    funding_type="출연금", application_end_date=date(2026, 3, 20), status="active")
YOUTH_HOUSING = PolicyDocument(
    id=103, source_system="youthcenter", source_id="20250312005400210001",
    title="청년 월세 한시 특별지원", content="청년 주거비 부담 경감",
    issuing_organization="국토교통부", target_regions=["전국"], target_group="청년",
    support_field="주거", funding_type="현금", application_always_open=True, status="active")
GOV24_CHILDCARE = PolicyDocument(
    id=104, source_system="gov24", source_id="WII000000001",
    title="서울형 아이돌봄비 지원", content="돌봄 공백 해소",
    issuing_organization="서울특별시", target_regions=["서울시"], target_group="영유아 가구||맞벌이 가구",
    support_field="보육·교육", funding_type="현금/바우처", application_period_text="상시신청", status="active")

HANDFUL = [BIZINFO_EXPORT, KSTARTUP_PRESTART, YOUTH_HOUSING, GOV24_CHILDCARE]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def record(doc: PolicyDocument, lsn: int, content_hash: str | None = None) -> SinkRecord:
    return SinkRecord(policy_id=doc.id, lsn=lsn, content_hash=content_hash or f"h{doc.id}-{lsn}", document=doc)


def test_the_sink_keeps_the_protocol(sink):
    assert isinstance(sink, Sink)
    assert sink.ping()


def test_a_handful_of_policies_share_organisation_region_and_category_nodes(sink, graph_driver):
    sink.upsert_batch([record(doc, 1000 + doc.id) for doc in HANDFUL])

    assert sink.count() == 4
    # 중소벤처기업부 spelt two ways is one node with two ISSUED_BY edges
    issued = query(graph_driver, "MATCH (o:Organization {key: '중소벤처기업부'})<-[:ISSUED_BY]-(p:Policy) "
                                 "RETURN o.name AS name, collect(p.id) AS ids")
    assert len(issued) == 1 and sorted(issued[0]["ids"]) == [101, 102]
    assert node_names(graph_driver, "Organization") == sorted(
        ["국토교통부", "서울특별시", "중소기업진흥공단", "중소벤처기업부", "창업진흥원"])
    # 서울 / 서울특별시 / 서울시 from three sources: one Region node, three policies
    seoul = query(graph_driver, "MATCH (r:Region {name: '서울특별시'})<-[:TARGETS_REGION]-(p) RETURN count(p) AS n")
    assert seoul == [{"n": 3}]
    assert node_names(graph_driver, "Region") == sorted(
        ["서울특별시", "경기도", "인천광역시", "부산광역시", "전국"])
    # 청년 is one TargetGroup shared by the K-Startup and 온통청년 policies; lists are split
    youth = query(graph_driver, "MATCH (:TargetGroup {name: '청년'})<-[:FOR_GROUP]-(p) RETURN collect(p.id) AS ids")
    assert sorted(youth[0]["ids"]) == [102, 103]
    assert edges(graph_driver, 104) == {
        ("ISSUED_BY", "Organization", "서울특별시"), ("TARGETS_REGION", "Region", "서울특별시"),
        ("FOR_GROUP", "TargetGroup", "영유아 가구"), ("FOR_GROUP", "TargetGroup", "맞벌이 가구"),
        ("IN_FIELD", "Field", "보육·교육"), ("HAS_FUNDING_TYPE", "FundingType", "현금"),
        ("HAS_FUNDING_TYPE", "FundingType", "바우처"), ("FROM_SOURCE", "Source", "gov24")}
    policy = query(graph_driver, "MATCH (p:Policy {id: 101}) RETURN p")[0]["p"]
    assert policy["title"] == BIZINFO_EXPORT.title and policy["status"] == "active"
    assert policy["lsn"] == 1101 and policy["content_hash"] == "h101-1101"
    assert policy["application_end_date"] == neo4j.time.Date(2026, 2, 27)
    assert policy["application_start_date"] == neo4j.time.Date(2026, 1, 5)
    assert policy["updated_at"].to_native() == BIZINFO_EXPORT.updated_at  # a DateTime, to the microsecond
    assert "updated_at" not in query(graph_driver, "MATCH (p:Policy {id: 102}) RETURN p")[0]["p"]  # None: absent
    assert "contact_email" not in policy and "content" not in policy


def test_an_update_replaces_the_edges_and_drops_dimension_nodes_left_alone(sink, graph_driver):
    sink.upsert_batch([record(doc, 1000 + doc.id) for doc in HANDFUL])
    moved = BIZINFO_EXPORT.model_copy(update={
        "issuing_organization": "산업통상자원부", "executing_organization": None,
        "target_regions": ["부산"], "funding_type": None, "title": "2026년 수출바우처사업 (변경)"})
    sink.upsert_batch([record(moved, 2000)])

    assert edges(graph_driver, 101) == {
        ("ISSUED_BY", "Organization", "산업통상자원부"), ("TARGETS_REGION", "Region", "부산광역시"),
        ("FOR_GROUP", "TargetGroup", "중소기업"), ("IN_FIELD", "Field", "수출"),
        ("FROM_SOURCE", "Source", "bizinfo")}
    # 중소기업진흥공단, 경기도, 인천광역시 and 바우처 lost their only policy; 중소벤처기업부 and 서울 are still used
    assert "중소기업진흥공단" not in node_names(graph_driver, "Organization")
    assert "중소벤처기업부" in node_names(graph_driver, "Organization")
    assert node_names(graph_driver, "Region") == sorted(["서울특별시", "부산광역시", "전국"])
    assert "바우처" in node_names(graph_driver, "FundingType")  # 104 still points at it
    assert query(graph_driver, "MATCH (p:Policy {id: 101}) RETURN p.title AS t, p.lsn AS lsn") == [
        {"t": "2026년 수출바우처사업 (변경)", "lsn": 2000}]
    orphans = query(graph_driver, "MATCH (d) WHERE any(label IN labels(d) WHERE label IN $dimensions) "
                                  "AND NOT (d)--() RETURN count(d) AS n", dimensions=list(DIMENSION_LABELS))
    assert orphans == [{"n": 0}]


def test_a_content_edit_that_keeps_the_links_leaves_the_relationships_untouched(sink, graph_driver):
    sink.upsert_batch([record(doc, 1000 + doc.id) for doc in HANDFUL])
    relationship_ids = "MATCH (:Policy {id: 101})-[r]->() RETURN collect(elementId(r)) AS ids"
    before = sorted(query(graph_driver, relationship_ids)[0]["ids"])
    edited = BIZINFO_EXPORT.model_copy(update={"title": "2026년 수출바우처사업 (마감 연장)",
                                               "application_end_date": date(2026, 3, 13)})
    sink.upsert_batch([record(edited, 3000)])

    assert sorted(query(graph_driver, relationship_ids)[0]["ids"]) == before
    assert query(graph_driver, "MATCH (p:Policy {id: 101}) RETURN p.title AS t, p.content_hash AS h") == [
        {"t": "2026년 수출바우처사업 (마감 연장)", "h": "h101-3000"}]
    # and a later move of one region touches only that relationship
    sink.upsert_batch([record(edited.model_copy(update={"target_regions": ["서울", "경기", "부산"]}), 3001)])
    after = set(query(graph_driver, relationship_ids)[0]["ids"])
    assert len(after) == len(before) and len(after - set(before)) == 1
    assert ("TARGETS_REGION", "Region", "부산광역시") in edges(graph_driver, 101)
    assert ("TARGETS_REGION", "Region", "인천광역시") not in edges(graph_driver, 101)


def test_a_delete_removes_the_policy_and_its_orphans_and_cannot_be_undone_by_a_replay(sink, graph_driver):
    sink.upsert_batch([record(doc, 1000 + doc.id) for doc in HANDFUL])
    sink.remove_batch([Removal(policy_id=104, lsn=FINAL_LSN), Removal(policy_id=103, lsn=FINAL_LSN)])

    assert sink.count() == 2
    assert [v.policy_id for v in sink.read_back(0, 10)] == [101, 102]
    assert query(graph_driver, "MATCH (p:Policy) WHERE p.id IN [103, 104] RETURN p") == []
    # 국토교통부, 서울특별시 (as organisation), 전국, 현금, gov24, youthcenter had no other policy
    assert node_names(graph_driver, "Organization") == sorted(["중소기업진흥공단", "중소벤처기업부", "창업진흥원"])
    assert "전국" not in node_names(graph_driver, "Region")
    assert node_names(graph_driver, "Source") == ["bizinfo", "kstartup"]
    assert "청년" in node_names(graph_driver, "TargetGroup")  # 102 still targets 청년
    markers = query(graph_driver, "MATCH (m:RemovedPolicy) WHERE NOT (m)--() RETURN m.id AS id, m.lsn AS lsn ORDER BY id")
    assert markers == [{"id": 103, "lsn": FINAL_LSN}, {"id": 104, "lsn": FINAL_LSN}]

    sink.upsert_batch([record(GOV24_CHILDCARE, 5000)])  # an old event replayed after the delete
    assert sink.count() == 2
    assert query(graph_driver, "MATCH (p:Policy {id: 104}) RETURN p") == []


def test_the_lsn_guard_ignores_older_upserts_and_removals(sink, graph_driver):
    sink.upsert_batch([record(YOUTH_HOUSING, 500)])
    older = YOUTH_HOUSING.model_copy(update={"title": "older title", "issuing_organization": "보건복지부"})
    sink.upsert_batch([record(older, 400)])
    sink.remove_batch([Removal(policy_id=103, lsn=450)])

    assert query(graph_driver, "MATCH (p:Policy {id: 103}) RETURN p.title AS t, p.lsn AS lsn") == [
        {"t": YOUTH_HOUSING.title, "lsn": 500}]
    assert ("ISSUED_BY", "Organization", "국토교통부") in edges(graph_driver, 103)
    assert query(graph_driver, "MATCH (m:RemovedPolicy) RETURN m") == []

    sink.upsert_batch([record(YOUTH_HOUSING, 500, content_hash="h103-500")])  # equal LSN: idempotent rewrite
    assert sink.read_back(0, 10)[0].lsn == 500 and len(edges(graph_driver, 103)) == 6


def test_one_write_of_upserts_and_removals_keeps_every_guard(sink, graph_driver):
    """``write_batch`` (the runtime's one statement per batch): each half keeps the LSN guard, and a
    removal's orphans go while an upsert in the same statement still holds its own nodes."""
    sink.upsert_batch([record(doc, 500) for doc in HANDFUL])
    older = YOUTH_HOUSING.model_copy(update={"title": "older title"})
    newer = BIZINFO_EXPORT.model_copy(update={"title": "newer title"})
    sink.write_batch([record(older, 400), record(newer, 600)],
                     [Removal(policy_id=102, lsn=450), Removal(policy_id=104, lsn=FINAL_LSN)])

    titles = query(graph_driver, "MATCH (p:Policy) RETURN p.id AS id, p.title AS t, p.lsn AS lsn ORDER BY id")
    assert titles == [{"id": 101, "t": "newer title", "lsn": 600}, {"id": 102, "t": KSTARTUP_PRESTART.title, "lsn": 500},
                      {"id": 103, "t": YOUTH_HOUSING.title, "lsn": 500}]
    assert query(graph_driver, "MATCH (m:RemovedPolicy) RETURN m.id AS id, m.lsn AS lsn") == [
        {"id": 104, "lsn": FINAL_LSN}]
    assert node_names(graph_driver, "Source") == ["bizinfo", "kstartup", "youthcenter"]  # gov24 went with 104
    sink.write_batch([], [])  # nothing to write: no statement, no error


def test_a_status_change_removes_and_a_later_reactivation_restores(sink, graph_driver):
    sink.upsert_batch([record(KSTARTUP_PRESTART, 100)])
    sink.remove_batch([Removal(policy_id=102, lsn=200)])  # status -> archived
    sink.upsert_batch([record(KSTARTUP_PRESTART, 150)])  # reordered older event: stays removed
    assert sink.count() == 0

    sink.upsert_batch([record(KSTARTUP_PRESTART, 300, content_hash="reactivated")])  # active again
    assert [(v.policy_id, v.lsn, v.content_hash) for v in sink.read_back(0, 10)] == [(102, 300, "reactivated")]
    assert query(graph_driver, "MATCH (m:RemovedPolicy) RETURN m") == []
    # the organisation node shows the spelling it was first seen with (here K-Startup's)
    assert ("ISSUED_BY", "Organization", "중소 벤처기업부") in edges(graph_driver, 102)


def test_one_batch_with_the_same_policy_twice_keeps_the_newest(sink, graph_driver):
    newer = BIZINFO_EXPORT.model_copy(update={"target_regions": ["제주"]})
    sink.upsert_batch([record(newer, 20), record(BIZINFO_EXPORT, 10)])
    assert {e for e in edges(graph_driver, 101) if e[0] == "TARGETS_REGION"} == {
        ("TARGETS_REGION", "Region", "제주특별자치도")}


def test_read_back_pages_through_every_policy_in_id_order(sink):
    docs = [BIZINFO_EXPORT.model_copy(update={"id": i, "source_id": f"PBLN_{i}"}) for i in range(1, 26)]
    sink.upsert_batch([record(doc, 10 * doc.id) for doc in reversed(docs)])
    pages, after = [], 0
    while page := sink.read_back(after, 10):
        pages.append(page)
        after = page[-1].policy_id
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [v.policy_id for p in pages for v in p] == list(range(1, 26))
    assert all(v.lsn == 10 * v.policy_id and v.content_hash == f"h{v.policy_id}-{v.lsn}" for p in pages for v in p)


def test_schema_is_created_idempotently(sink, graph_driver):
    sink.ensure_ready()
    names = {r["name"] for r in query(graph_driver, "SHOW CONSTRAINTS YIELD name RETURN name")}
    assert {"policy_id", "removed_policy_id", "organization_key", "region_key", "field_key",
            "target_group_key", "funding_type_key", "source_key"} <= names


def test_wrong_password_is_terminal_and_an_unreachable_server_is_transient(stack):
    wrong = stack.neo4j.model_copy(update={"password": type(stack.neo4j.password)("not-the-password")})
    with closing(Neo4jSink(wrong)) as bad:
        with pytest.raises(TerminalError) as refused:
            bad.upsert_batch([record(YOUTH_HOUSING, 1)])
        assert "NEO4J_PASSWORD" in refused.value.hint
    closed_port = stack.neo4j.model_copy(update={"port": _free_port()})
    with closing(Neo4jSink(closed_port, connection_timeout_seconds=1)) as down:
        assert not down.ping()
        with pytest.raises(TransientError):
            down.upsert_batch([record(YOUTH_HOUSING, 1)])
        with pytest.raises(TransientError):
            down.read_back(0, 10)


def test_namespaces_keep_two_graphs_apart_in_one_database(stack, sink, graph_driver):
    other = Neo4jSink(stack.neo4j.model_copy(update={"namespace": "itestOther"}))
    try:
        other.ensure_ready()
        other.upsert_batch([record(BIZINFO_EXPORT, 7)])
        sink.upsert_batch([record(YOUTH_HOUSING, 8)])
        assert [v.policy_id for v in other.read_back(0, 10)] == [101]
        assert [v.policy_id for v in sink.read_back(0, 10)] == [103]
        assert query(graph_driver, "MATCH (o:itestOtherOrganization) RETURN o.name AS n ORDER BY n") == [
            {"n": "중소기업진흥공단"}, {"n": "중소벤처기업부"}]
        other.remove_batch([Removal(policy_id=103, lsn=FINAL_LSN)])  # another namespace's id: not touched
        assert sink.count() == 1
    finally:
        other.drop_namespace()
        other.close()
    assert query(graph_driver, "MATCH (n) WHERE any(l IN labels(n) WHERE l STARTS WITH 'itestOther') "
                               "RETURN count(n) AS n") == [{"n": 0}]
    names = {r["name"] for r in query(graph_driver, "SHOW CONSTRAINTS YIELD name RETURN name")}
    assert not {n for n in names if n.startswith("itestOther")}


def _connection_ids(driver) -> set[str]:
    return {r["id"] for r in query(driver, "CALL dbms.listConnections() YIELD connectionId RETURN connectionId AS id")}


def test_writes_go_on_after_the_server_drops_the_sinks_connections(stack, sink, graph_driver):
    """The sink keeps one session for its writes: when Neo4j drops the connections under it, a write
    fails at most once (transient) and the next one, in a fresh session, lands."""
    _connection_ids(graph_driver)
    before = _connection_ids(graph_driver)
    with closing(Neo4jSink(stack.neo4j)) as writer:
        writer.upsert_batch([record(YOUTH_HOUSING, 1)])
        writer.upsert_batch([record(YOUTH_HOUSING, 2)])
        own = _connection_ids(graph_driver) - before
        assert own, "the sink's connection is not listed"
        query(graph_driver, "CALL dbms.killConnections($ids)", ids=sorted(own))
        failures = 0
        for lsn in (3, 4, 5):
            try:
                writer.upsert_batch([record(YOUTH_HOUSING, lsn)])
                break
            except TransientError:
                failures += 1
        assert failures <= 1
    assert query(graph_driver, "MATCH (p:Policy {id: $id}) RETURN p.lsn AS lsn", id=YOUTH_HOUSING.id) == [
        {"lsn": 3 + failures}]
