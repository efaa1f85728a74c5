"""The Milvus vector sink against the real local Milvus and the real bundled model (no mocks).

Semantic search, scalar filters, the never-embed-twice rule (model calls counted), LSN guard
and markers, read-back paging, and `aegis sinks reembed` to a new model version. The policies are
real-shaped (Korean agencies, regions, fields and dates) with English titles and summaries: the
default model (all-MiniLM-L6-v2) is English, so only English text gives meaningful neighbours.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import date

import pytest
from click.testing import CliRunner

from aegis.errors import TerminalError
from aegis.settings import Settings
from cdc_sinks.base import FINAL_LSN, PolicyDocument, Removal, SinkRecord
from cdc_sinks.checksums import RangeChecksum
from cdc_sinks.milvus.collection import collection_name
from cdc_sinks.milvus.embedder import get_embedder
from cdc_sinks.milvus.reembed import Reembedder
from cdc_sinks.milvus.search import SearchFilter, VectorSearch
from cdc_sinks.milvus.sink import MilvusSink, build_milvus_sink
from cdc_sinks.milvus.store import MilvusStore
from console.cli.sinks_reembed import reembed
from reconciler.drift import read_target
from testkit.checksums import checksums_of
from tests.conftest import running_stack

pytestmark = pytest.mark.integration

POLICIES = {
    101: dict(title="2025 Youth Monthly Rent Special Support",
              content="<p>Young people aged 19 to 34 who live apart from their parents and have a low income receive "
                      "up to 200,000 won a month towards their <b>rent</b> for 12 months.</p>",
              issuing_organization="국토교통부", target_regions=["서울", "부산", "대구"], support_field="주거",
              application_end_date=date(2025, 12, 31)),
    102: dict(title="SME Export Voucher Programme",
              content="Small and medium-sized exporters get vouchers for overseas marketing, translation, "
                      "international certification and trade fair participation.",
              issuing_organization="중소벤처기업부", target_regions=["부산"], support_field="수출",
              application_end_date=date(2026, 3, 31)),
    103: dict(title="Smart Factory Construction Support",
              content="Manufacturing SMEs receive funding to introduce automation equipment, MES and sensors on "
                      "their production lines.", issuing_organization="중소벤처기업부",
              target_regions=["경기", "충남"], support_field="기술", application_end_date=None),
    104: dict(title="Pre-Startup Package for First-time Founders",
              content="Would-be founders without a registered business receive up to 100 million won in seed "
                      "funding, mentoring and an incubation space.", issuing_organization="창업진흥원",
              target_regions=["서울"], support_field="창업", application_end_date=date(2026, 2, 28)),
    105: dict(title="Farmers' Disaster Insurance Premium Subsidy",
              content="Farms insuring crops against typhoons, hail and drought have half of the premium paid.",
              issuing_organization="농림축산식품부", target_regions=["전남", "경북"], support_field="농업",
              application_end_date=date(2025, 11, 30)),
    106: dict(title="Employment Incentive for Hiring Older Workers",
              content="Employers who hire workers aged 60 or over receive a monthly wage subsidy for up to two years.",
              issuing_organization="고용노동부", target_regions=["서울", "경기"], support_field="인력",
              application_end_date=date(2026, 6, 30)),
}


def document(policy_id: int, *, status: str = "active", quality: float | None = 0.9, **changes) -> PolicyDocument:
    values = {**POLICIES[policy_id], **changes}
    return PolicyDocument(id=policy_id, source_system="bizinfo", source_id=f"PBLN_{policy_id}", status=status,
                          quality_score=quality, **values)


def record(policy_id: int, lsn: int, content_hash: str | None = None, **changes) -> SinkRecord:
    return SinkRecord(policy_id, lsn, content_hash or f"hash-{policy_id}", document(policy_id, **changes))


@pytest.fixture(scope="module")
def milvus(settings: Settings) -> Iterator[Settings]:
    """Milvus, and PostgreSQL for the re-embed's audit row: started (if not running) rather than the whole stack."""
    with running_stack(settings, ["postgres", "milvus"]) as running:
        yield running


def make_settings(base: Settings, alias: str, **embedding) -> Settings:
    return base.model_copy(update={"milvus": base.milvus.model_copy(update={"collection_alias": alias}),
                                   "embedding": base.embedding.model_copy(update=embedding)})


@pytest.fixture
def settings_for_test(milvus: Settings):
    alias = f"t_{secrets.token_hex(4)}"
    configured = make_settings(milvus, alias)
    yield configured
    store = MilvusStore(configured.milvus)
    try:
        store.drop_namespace(alias)
    finally:
        store.close()


@pytest.fixture
def sink(settings_for_test: Settings):
    built = build_milvus_sink(settings_for_test)
    built.ensure_ready()
    yield built
    built.close()


@pytest.fixture
def loaded(sink: MilvusSink) -> MilvusSink:
    sink.upsert_batch([record(pid, 1000 + pid) for pid in POLICIES])
    return sink


def search(sink: MilvusSink, text: str, **where) -> list[int]:
    searcher = VectorSearch(sink.store, sink.settings, sink.embedder)
    return [hit.policy_id for hit in searcher.search(text, where=SearchFilter(**where) if where else None, limit=6)]


@pytest.mark.parametrize("query, expected", [
    ("help paying the rent for a young person living alone", 101),
    ("money to sell my products abroad", 102),
    ("robots and automation for a manufacturing plant", 103),
    ("I want to start my first company", 104),
    ("my crops were destroyed by a storm", 105),
    ("subsidy for employing senior citizens", 106),
])
def test_semantic_search_returns_the_expected_neighbour(loaded, query, expected):
    assert search(loaded, query)[0] == expected


def test_scalar_filters_narrow_the_search(loaded):
    query = "government support programme"
    assert set(search(loaded, query, region="부산")) == {101, 102}
    assert set(search(loaded, query, organisation="중소벤처기업부")) == {102, 103}
    assert search(loaded, query, support_field="창업") == [104]
    # open on 2026-03-01: end date on or after it, or open-ended (103 has none)
    assert set(search(loaded, query, open_on=date(2026, 3, 1))) == {102, 103, 106}
    assert search(loaded, query, region="서울", support_field="주거") == [101]
    assert search(loaded, query, status="rejected") == []


def test_status_only_and_quality_only_changes_make_no_model_call(loaded):
    stats = loaded.embedder.stats
    calls, texts = stats.calls, stats.texts
    loaded.upsert_batch([record(101, 2000, quality=0.42)])                        # quality only
    loaded.remove_batch([Removal(102, 2001)])                                     # status active -> archived
    loaded.upsert_batch([record(102, 2002)])                                      # ... and back, unchanged
    loaded.upsert_batch([record(103, 2003, issuing_organization="산업통상자원부")])  # scalar field only
    assert (stats.calls, stats.texts) == (calls, texts), "an unchanged text was embedded again"
    assert search(loaded, "money to sell my products abroad")[0] == 102  # its vector came back with it
    assert search(loaded, "automation", organisation="산업통상자원부") == [103]

    calls, texts = stats.calls, stats.texts  # (each search embedded its query)
    loaded.upsert_batch([record(104, 2004, content_hash="hash-104-v2", title="Pre-Startup Package (2nd round)")])
    assert (stats.calls, stats.texts) == (calls + 1, texts + 1), "a content change must be embedded, once"


def test_older_events_never_overwrite_and_deletes_never_resurrect(loaded):
    loaded.upsert_batch([record(101, 900, content_hash="old-hash")])          # older than 1101
    loaded.remove_batch([Removal(102, 900)])                                   # older removal
    loaded.remove_batch([Removal(103, FINAL_LSN)])                             # delete
    loaded.upsert_batch([record(103, 5000, content_hash="replayed")])          # a replay after the delete
    state = {v.policy_id: (v.lsn, v.content_hash) for v in loaded.read_back(0, 100)}
    assert state[101] == (1101, "hash-101") and state[102] == (1102, "hash-102") and 103 not in state
    assert loaded.count() == len(POLICIES) - 1
    assert 103 not in search(loaded, "robots and automation for a manufacturing plant")


def test_read_back_pages_in_id_order(sink):
    ids = list(range(5000, 5300, 3))
    for chunk in (ids[1::2], ids[::2]):  # two writes, two segments, interleaved ids
        sink.upsert_batch([SinkRecord(i, i, f"h{i}", document(101, title=f"Policy {i}")) for i in chunk])
        sink.store.run(lambda c: c.flush(sink.collection), "flush")
    sink.remove_batch([Removal(ids[10], FINAL_LSN)])
    pages, after = [], 0
    while page := sink.read_back(after, 17):
        pages.append(page)
        after = page[-1].policy_id
    got = [v.policy_id for page in pages for v in page]
    assert got == [i for i in ids if i != ids[10]] and all(len(p) == 17 for p in pages[:-1])
    assert sink.count() == len(ids) - 1


def test_reembed_builds_the_new_version_and_swaps_the_alias(loaded, settings_for_test):
    loaded.remove_batch([Removal(105, 3000), Removal(106, FINAL_LSN)])
    new_settings = make_settings(settings_for_test, settings_for_test.milvus.collection_alias, model_version="test-v2")
    old_collection = loaded.collection
    result = CliRunner().invoke(reembed, ["--page-size", "2"], obj=new_settings, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "copy: 6/6 rows" in result.stderr
    assert f"-> {collection_name(settings_for_test.milvus.collection_alias, 'test-v2')}" in result.stdout

    new_sink = build_milvus_sink(new_settings)
    try:
        new_sink.ensure_ready()
        assert new_sink.collection != old_collection
        stored = {v.policy_id: v for v in new_sink.read_back(0, 100)}
        assert set(stored) == {101, 102, 103, 104} and {v.extra["model_version"] for v in stored.values()} == {"test-v2"}
        assert stored[101].lsn == 1101 and stored[101].content_hash == "hash-101"
        assert search(new_sink, "help paying the rent for a young person living alone")[0] == 101
        # the archived policy's vector came along: it re-activates without a model call
        calls = new_sink.embedder.stats.calls
        new_sink.upsert_batch([record(105, 3001)])
        assert new_sink.embedder.stats.calls == calls
        # a second run has nothing to do
        again = Reembedder(new_sink).run()
        assert again.from_collection == again.to_collection and not again.swapped
    finally:
        new_sink.close()
    # the old sink refuses to write into a collection of another model version
    with pytest.raises(TerminalError, match="reembed"):
        loaded.upsert_batch([record(101, 4000)])


def test_a_collection_stamped_by_the_torch_backend_is_kept_by_the_onnx_one(milvus):
    """Before the version named the vectors it named the backend: a torch collection of
    ``…/torch/128`` is the same vectors as ONNX fp32's ``…/fp32/128``, so the ONNX sink writes into
    it, reuses every unchanged vector and reembed has nothing to do."""
    alias = f"t_{secrets.token_hex(4)}"
    torch_settings = make_settings(milvus, alias, backend="torch")
    legacy = f"{torch_settings.embedding.model}/torch/{torch_settings.embedding.max_tokens}"
    torch_settings = make_settings(milvus, alias, backend="torch", model_version=legacy)
    onnx_settings = make_settings(milvus, alias, backend="onnx")
    old, new = build_milvus_sink(torch_settings), build_milvus_sink(onnx_settings)
    try:
        old.upsert_batch([record(pid, 1000 + pid) for pid in POLICIES])
        torch_vectors = {v.policy_id: v for v in old.read_back(0, 100)}
        new.ensure_ready()
        assert new.collection == old.collection and new.store.description(new.collection) == legacy
        stats = new.embedder.stats
        calls = stats.calls
        new.upsert_batch([record(pid, 2000 + pid) for pid in POLICIES])  # same texts, newer LSNs
        assert stats.calls == calls, "an unchanged text was embedded again after the backend change"
        new.upsert_batch([record(101, 3000, content_hash="hash-101-v2", title="Monthly rent for young people")])
        assert stats.calls == calls + 1
        stamps = {int(r["id"]): r["model_version"] for r in new.store.query_ids(new.collection, [101, 102],
                                                                                 ["id", "model_version"])}
        assert stamps == {101: onnx_settings.embedding.version, 102: onnx_settings.embedding.version}
        assert onnx_settings.embedding.version.endswith("/fp32/128")
        again = Reembedder(new).run()
        assert again.from_collection == again.to_collection == old.collection and not again.swapped
        assert search(new, "help paying the rent for a young person living alone")[0] == 101
        kept = {v.policy_id: v for v in new.read_back(0, 100)}
        assert set(kept) == set(torch_vectors) and kept[102].lsn == 2102
    finally:
        old.close()
        new.close()
        store = MilvusStore(torch_settings.milvus)
        try:
            store.drop_namespace(alias)
        finally:
            store.close()


def test_ensure_ready_refuses_a_collection_of_another_model_version(loaded, settings_for_test):
    other = MilvusSink(MilvusStore(settings_for_test.milvus), settings_for_test.milvus,
                             get_embedder(settings_for_test.embedding.model_copy(update={"model_version": "other"})))
    try:
        with pytest.raises(TerminalError) as raised:
            other.ensure_ready()
        assert raised.value.code.value == "DP_3001" and "aegis sinks reembed" in raised.value.hint
    finally:
        other.close()


def test_range_checksums_cover_gaps_stray_ids_and_bounds(loaded):
    base = document(101)
    loaded.upsert_batch([SinkRecord(i, 5000, f"hash-{i}", base.model_copy(update={"id": i}))
                         for i in (40_000, 900_000_000)])
    loaded.remove_batch([Removal(102, FINAL_LSN)])
    held = list(read_target(loaded, 1000))
    assert {v.policy_id for v in held} == {101, 103, 104, 105, 106, 40_000, 900_000_000}

    def expected(lo: int, hi: int | None) -> dict[int, RangeChecksum]:
        return checksums_of(((v.policy_id, v.content_hash) for v in held
                             if v.policy_id >= lo and (hi is None or v.policy_id < hi)), 100)

    for lo, hi in [(0, None), (0, 104), (104, 50_000), (50_000, None), (0, 101), (200, 30_000)]:
        assert loaded.range_checksums(100, lo, hi) == expected(lo, hi), (lo, hi)


def test_ping_waits_until_the_collection_serves_reads(sink):
    """A Milvus that answers but cannot serve the sink's reads (a released collection here; a
    restarted server waiting for its old sessions to expire in a fault) keeps the sink paused."""
    assert sink.ping()
    sink.store.run(lambda c: c.release_collection(sink.collection), "release collection")
    try:
        assert sink.store.ping() and not sink.ping()
    finally:
        sink.store.run(lambda c: c.load_collection(sink.collection, timeout=sink.store.ddl_timeout), "load collection")
    assert sink.ping()


def test_status_names_each_collections_model_and_warns_when_english_only_embeds_korean(sink, settings_for_test):
    """`aegis status`'s Milvus part, read from the real collection: the packaged English model's
    collection holding Korean policies is flagged; English policies alone are not."""
    from console.ops.status import PipelineStatus, _embedding_part

    sink.upsert_batch([record(pid, 2000 + pid) for pid in (101, 102)])  # English text
    status = PipelineStatus(sinks=[])
    _embedding_part(settings_for_test, status)
    [entry] = status.embedding_models
    assert entry.current and entry.model_version == sink.embedder.version and entry.english_only
    assert (entry.rows_sampled, entry.korean_rows) == (2, 0) and status.attention == []

    sink.upsert_batch([record(103, 3000, "hash-ko", title="스마트공장 구축 지원사업",
                              content="제조 중소기업의 생산라인에 자동화 설비와 센서 도입 비용을 지원합니다.")])
    status = PipelineStatus(sinks=[])
    _embedding_part(settings_for_test, status)
    [entry] = status.embedding_models
    assert (entry.rows_sampled, entry.korean_rows) == (3, 1)
    assert status.attention == [] and len(status.warnings) == 1  # development: said, not a failed check
    assert "English-only model" in status.warnings[0] and "aegis sinks reembed" in status.warnings[0]

    production = settings_for_test.model_copy(update={"service": settings_for_test.service.model_copy(
        update={"environment": "production"})})
    status = PipelineStatus(sinks=[])
    _embedding_part(production, status)
    assert len(status.attention) == 1 and "English-only model" in status.attention[0]


def test_a_collection_left_without_its_index_is_completed_and_loaded(settings_for_test: Settings):
    """Another member of the sink created the collection and has not created its index yet (or died
    in between): this member adds the index, loads the collection and writes."""
    from pymilvus import MilvusClient

    from cdc_sinks.milvus.collection import build_schema

    built = build_milvus_sink(settings_for_test)
    try:
        name = collection_name(settings_for_test.milvus.collection_alias, built.embedder.version)
        client = MilvusClient(uri=f"http://{settings_for_test.milvus.host}:{settings_for_test.milvus.port}")
        try:  # the first of MilvusClient.create_collection's steps only, with Milvus' own client
            client.create_collection(name, schema=build_schema(built.embedder.dimension, built.embedder.version))
            assert client.list_indexes(name) == []
        finally:
            client.close()
        built.ensure_ready()
        built.upsert_batch([record(101, 5)])
        assert [v.policy_id for v in built.read_back(0, 10)] == [101]
    finally:
        built.close()


def test_settling_seals_compacts_and_indexes_now_what_was_written(milvus: Settings):
    """Written and partly deleted through pymilvus itself, then settled: Milvus's own answers show the
    rows sealed, indexed and compacted (the deleted ones purged), the query node serving exactly the
    persisted segments, and the rows unchanged."""
    from pymilvus import DataType, MilvusClient
    from pymilvus.grpc_gen import common_pb2

    from console.ops.settle import settle_milvus

    name = f"t_settle_{secrets.token_hex(4)}"
    client = MilvusClient(**milvus.milvus.client_kwargs(), timeout=60)
    connection = client._get_connection()  # the two segment views have no public call in pymilvus
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=8)
    index = client.prepare_index_params()
    index.add_index("vector", index_type="HNSW", metric_type="L2", params={"M": 8, "efConstruction": 32})
    client.create_collection(name, schema=schema, index_params=index)

    def persisted() -> dict[int, int]:
        return {info.segmentID: info.num_rows for info in connection.get_persistent_segment_infos(name, timeout=30)
                if info.state != common_pb2.SegmentState.Dropped}

    def indexed() -> dict:
        return {key: value for key, value in client.describe_index(name, "vector").items() if key.endswith("rows")}

    try:
        rows = 3_000  # over the 1,024 rows from which Milvus indexes a segment
        client.insert(name, [{"id": i, "vector": [float(i % 97 + d) for d in range(8)]} for i in range(rows)])
        client.delete(name, filter=f"id >= {rows - 1_000}")
        # by itself Milvus seals the growing segment after ten idle minutes
        assert persisted() == {} and indexed()["total_rows"] == 0

        [result] = settle_milvus(milvus.milvus, timeout=120, collections=[name])

        assert result.settled and result.compacted, result.line()
        assert list(persisted().values()) == [rows - 1_000]  # sealed, and the deleted rows purged
        assert indexed() == {"total_rows": rows - 1_000, "indexed_rows": rows - 1_000, "pending_index_rows": 0}
        served = connection.get_query_segment_info(name, timeout=30)
        assert {info.segmentID for info in served} == set(persisted())
        assert {common_pb2.SegmentState.Name(info.state) for info in served} == {"Sealed"}
        counted = client.query(name, filter="", output_fields=["count(*)"], consistency_level="Strong")
        assert counted[0]["count(*)"] == rows - 1_000
    finally:
        client.drop_collection(name)
        client.close()
