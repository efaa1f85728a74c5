"""The search sink against the real engine (OpenSearch on the local stack): Korean search, masking,
external-version guard, removal markers, alias layout and an atomic rebuild."""

from __future__ import annotations

import secrets

import pytest

from aegis.settings import Settings
from cdc_sinks.base import FINAL_LSN, Removal
from cdc_sinks.batching import plan_batch
from cdc_sinks.search.sink import SearchSink, build_engine
from testkit.envelopes import message
from testkit.native import NativeSearch

pytestmark = pytest.mark.integration


def _message(policy_id, lsn, **kwargs):
    return message(policy_id, lsn, **kwargs)


@pytest.fixture
def search(stack: Settings):
    settings = stack.search.model_copy(update={"index_alias": f"it-{secrets.token_hex(4)}", "refresh": "wait_for"})
    sink = SearchSink(build_engine(settings), settings)
    print(f"[search] engine {sink.engine.kind} {sink.engine.info()['version']['number']} at {settings.url}")
    sink.ensure_ready()
    yield sink
    for index in set(sink.engine.alias_targets(sink.alias) + sink.engine.alias_targets(sink.write_alias)):
        sink.engine.delete_index(index)
    sink.close()


@pytest.fixture
def reader(search: SearchSink, stack: Settings):
    """The engine's own REST API on the sink's read alias: what a reader's search finds."""
    native = NativeSearch(stack.model_copy(update={"search": search.settings}))
    yield native
    native.close()


def _upsert(sink, *messages):
    sink.upsert_batch([c.action for c in plan_batch(list(messages)).upserts])


def test_korean_text_is_searchable_by_part_of_a_compound_word(search, reader):
    _upsert(search, _message(1, 10, title="청년창업사관학교 입교생 모집"), _message(2, 11, title="수출바우처 지원"))
    assert reader.match("창업") == [1]
    assert reader.match("바우처") == [2]


def test_personal_data_is_masked_in_the_index(search):
    _upsert(search, _message(3, 10))
    doc = search.engine.search(search.alias, {"query": {"ids": {"values": ["3"]}}})["hits"]["hits"][0]["_source"]
    local, _, domain = doc["contact_email"].rpartition("@")  # docs/privacy.md: the local part starred, the domain kept
    assert local and set(local) == {"*"} and domain == "example.go.kr"
    assert "raw_data" not in doc and doc["lsn"] == 10


def test_older_versions_and_removed_policies_never_come_back(search, reader):
    _upsert(search, _message(4, 20, title="새 제목"), _message(5, 20))
    _upsert(search, _message(4, 15, title="옛 제목"))
    search.remove_batch([Removal(5, FINAL_LSN)])
    _upsert(search, _message(5, 25))
    search.remove_batch([Removal(4, 19)])  # an older removal loses too
    assert [(v.policy_id, v.lsn) for v in search.read_back(0, 10)] == [(4, 20)]
    assert reader.match("새") == [4] and search.count() == 1
    marker = search.engine.search(search.write_alias, {"query": {"ids": {"values": ["5"]}}})["hits"]["hits"]
    assert marker and marker[0]["_source"]["removed"] is True


def test_a_document_the_mapping_refuses_is_a_data_error(search):
    from aegis.errors import DataError
    # the bulk answer is filtered to what the sink reads (BULK_ITEM_FIELDS): the id and the error survive
    with pytest.raises(DataError, match="policy 9: strict_dynamic_mapping_exception"):
        search._bulk([search._operation(9, 1), {"id": 9, "unknown_field": "x"}], 1)


def test_rebuild_swaps_both_aliases_atomically_and_keeps_versions(search):
    _upsert(search, _message(6, 30), _message(7, 31))
    search.remove_batch([Removal(8, FINAL_LSN)])
    old = search.current_index()
    new = search.rebuild()
    assert new != old and search.engine.alias_targets(search.alias) == [new]
    assert search.engine.alias_targets(search.write_alias) == [new]
    assert [(v.policy_id, v.lsn) for v in search.read_back(0, 10)] == [(6, 30), (7, 31)]
    _upsert(search, _message(8, 40))  # the removal marker came along: no resurrection
    assert search.count() == 2



def test_creating_an_index_that_already_exists_is_no_error(search):
    """Members of the sink starting together race to create it (the conformance suite races them)."""
    index = search.current_index()
    search.engine.create_index(index, {"settings": {}, "mappings": {}})
    assert search.engine.alias_targets(search.write_alias) == [index]


def test_an_existing_index_takes_the_configured_refresh_interval_at_start(search, reader):
    """Set behind the sink's back with the engine's REST API, the interval is back to the setting after a start."""
    index = search.current_index()
    assert reader.http.put(f"/{index}/_settings", json={"index": {"refresh_interval": "7s"}}).status_code == 200
    assert reader.http.get(f"/{index}/_settings").json()[index]["settings"]["index"]["refresh_interval"] == "7s"
    restarted = SearchSink(build_engine(search.settings), search.settings.model_copy(update={"refresh_interval": "150ms"}))
    restarted.ensure_ready()
    restarted.close()
    assert reader.http.get(f"/{index}/_settings").json()[index]["settings"]["index"]["refresh_interval"] == "150ms"
