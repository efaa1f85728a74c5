"""The search sink's judgement of bulk answers and its index layout, against a recording engine."""

from typing import Any

import orjson
import pytest

from aegis.errors import DataError, TransientError
from aegis.settings import SearchSettings
from cdc_sinks.base import FINAL_LSN, Removal
from cdc_sinks.batching import plan_batch
from cdc_sinks.checksums import row_digest
from cdc_sinks.search.engine import SearchEngine
from cdc_sinks.search.errors import translate_status
from cdc_sinks.search.sink import SearchSink
from cdc_sinks.search.template import index_body, version_of, versioned_name
from testkit.envelopes import message


class RecordingEngine(SearchEngine):
    """Answers bulk requests with the statuses it is given; records what it was sent."""

    kind = "recording"

    def __init__(self, statuses: list[int] | None = None):
        self.statuses = statuses
        self.sent: list[list[dict[str, Any]]] = []
        self.aliases: dict[str, list[str]] = {}
        self.indexes: dict[str, dict] = {}
        self.added_fields: list[tuple[str, dict]] = []
        self.refresh_intervals: dict[str, str] = {}

    def info(self): return {}
    def tokenizer_available(self, tokenizer): return False
    def index_exists(self, index): return index in self.indexes
    def create_index(self, index, body): self.indexes[index] = body
    def delete_index(self, index): self.indexes.pop(index, None)
    def alias_targets(self, alias): return self.aliases.get(alias, [])

    def update_aliases(self, actions):
        for action in actions:
            (kind, spec), = action.items()
            targets = self.aliases.setdefault(spec["alias"], [])
            targets.append(spec["index"]) if kind == "add" else targets.remove(spec["index"])

    def bulk(self, operations, refresh):
        self.sent.append(operations)
        statuses = self.statuses or [201] * (len(operations) // 2)
        return [{"index": {"_id": op["index"]["_id"], "status": s, "error": None if s < 300 else
                           {"type": "x", "reason": "because"}}} for op, s in zip(operations[::2], statuses)]

    def search(self, index, body): return {"hits": {"hits": []}}
    def count(self, index, query=None): return 0
    def refresh(self, index): ...
    def reindex(self, source, dest): return {}
    def add_fields(self, index, properties): self.added_fields.append((index, properties))
    def set_refresh_interval(self, index, interval): self.refresh_intervals[index] = interval
    def close(self): ...


def _records(n: int):
    return [c.action for c in plan_batch([message(i, 1000 + i) for i in range(1, n + 1)]).upserts]


def test_documents_are_indexed_with_the_lsn_as_external_gte_version_through_the_write_alias():
    engine = RecordingEngine()
    SearchSink(engine, SearchSettings(index_alias="p")).upsert_batch(_records(2))
    header, doc = engine.sent[0][0], orjson.loads(engine.sent[0][1])  # documents go serialized once
    assert header == {"index": {"_index": "p-write", "_id": "1", "version": 1001, "version_type": "external_gte"}}
    assert doc["lsn"] == 1001 and doc["removed"] is False and doc["content_hash"] == f"{1001:064x}"
    assert doc["row_digest"] == row_digest(1, f"{1001:064x}")
    assert "raw_data" not in doc and doc["contact_email"] != "someone@example.com"


def test_removals_index_a_marker_that_cannot_be_overwritten_by_older_events():
    engine = RecordingEngine()
    SearchSink(engine, SearchSettings(index_alias="p")).remove_batch([Removal(5, FINAL_LSN), Removal(6, 77)])
    ops = engine.sent[0]
    marker = dict(ops[1])
    assert isinstance(marker.pop("removed_at"), int)  # when it was written: the reconciler purges old markers
    assert ops[0]["index"]["version"] == FINAL_LSN and marker == {"id": 5, "lsn": FINAL_LSN, "content_hash": "",
                                                                  "removed": True}
    assert ops[2]["index"]["version"] == 77


def test_version_conflicts_are_stale_events_and_not_errors():
    SearchSink(RecordingEngine([201, 409, 200]), SearchSettings()).upsert_batch(_records(3))


def test_a_mapping_refusal_is_a_data_error_and_overload_is_transient():
    with pytest.raises(DataError):
        SearchSink(RecordingEngine([201, 400]), SearchSettings()).upsert_batch(_records(2))
    with pytest.raises(TransientError):
        SearchSink(RecordingEngine([400, 429]), SearchSettings()).upsert_batch(_records(2))


def test_first_start_creates_v1_behind_a_filtered_read_alias_and_a_write_alias():
    engine = RecordingEngine()
    sink = SearchSink(engine, SearchSettings(index_alias="pol"))
    sink.ensure_ready()
    sink.ensure_ready()
    assert list(engine.indexes) == ["pol-v1"]
    assert engine.aliases == {"pol": ["pol-v1"], "pol-write": ["pol-v1"]}
    assert engine.indexes["pol-v1"]["mappings"]["properties"]["row_digest"] == {"type": "long"}


def test_an_index_created_before_row_digests_gets_the_field_added_in_place():
    engine = RecordingEngine()
    engine.aliases = {"pol": ["pol-v1"], "pol-write": ["pol-v1"]}
    SearchSink(engine, SearchSettings(index_alias="pol")).ensure_ready()
    assert engine.added_fields == [("pol-v1", {"row_digest": {"type": "long"}, "removed_at": {"type": "long"}})]


def test_rebuild_moves_both_aliases_to_the_next_version():
    engine = RecordingEngine()
    sink = SearchSink(engine, SearchSettings(index_alias="pol"))
    sink.ensure_ready()
    assert sink.rebuild() == "pol-v2"
    assert engine.aliases == {"pol": ["pol-v2"], "pol-write": ["pol-v2"]}


def test_index_template_is_strict_and_korean_aware():
    body = index_body(with_nori=False, refresh_interval="1s")
    assert body["mappings"]["dynamic"] == "strict"
    assert body["settings"]["analysis"]["analyzer"]["korean_bigram"]["filter"][-1] == "cjk_bigram"
    assert body["mappings"]["properties"]["title"]["analyzer"] == "korean_bigram"
    nori = index_body(with_nori=True, refresh_interval="1s")
    assert nori["mappings"]["properties"]["title"]["analyzer"] == "korean"
    assert nori["mappings"]["properties"]["title"]["fields"]["bigram"]["analyzer"] == "korean_bigram"
    assert versioned_name("policies", 3) == "policies-v3" and version_of("policies-v3", "policies") == 3
    assert version_of("other-v3", "policies") is None


def test_status_translation():
    assert isinstance(translate_status(None, "bulk", "refused"), TransientError)
    assert isinstance(translate_status(503, "bulk", "x"), TransientError)
    assert not isinstance(translate_status(403, "bulk", "x"), TransientError)


def test_opensearch_answers_are_read_with_orjson_and_garbage_is_the_clients_serialization_error():
    from opensearchpy import exceptions as os_errors

    from cdc_sinks.search.opensearch_engine import _OrjsonAnswers

    answers = _OrjsonAnswers()
    assert answers.loads('{"items": [{"index": {"_id": "7", "status": 409}}]}')["items"][0]["index"]["status"] == 409
    assert answers.loads('{"_version": 9223372036854775807}')["_version"] == FINAL_LSN  # a delete's version
    with pytest.raises(os_errors.SerializationError):
        answers.loads("<html>502 Bad Gateway</html>")


def test_an_existing_index_takes_the_configured_refresh_interval():
    engine = RecordingEngine()
    engine.aliases = {"pol": ["pol-v1"], "pol-write": ["pol-v1"]}
    SearchSink(engine, SearchSettings(index_alias="pol", refresh_interval="250ms")).ensure_ready()
    assert engine.refresh_intervals == {"pol-v1": "250ms"}
