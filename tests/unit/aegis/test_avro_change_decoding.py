"""The Avro decoder against real twin captures: the same Debezium changes once as JSON and once as
Avro (Apicurio's converter, Confluent wire format; data/debezium_twin_capture.json, written by
scripts/capture_change_twins.py). Avro must decode to exactly the ChangeEvent JSON decodes to, and
no input may make it raise anything but DataError."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path

import pytest

from aegis.changestream.avro_registry import parse_avro_schema
from aegis.changestream.avro_wire import frame, looks_framed, unframe
from aegis.errors import DataError, ErrorCode
from aegis.changestream.decoding import AvroChangeDecoder, JsonChangeDecoder, build_decoder
from aegis.changestream.event import Op, decode_change

CAPTURE = json.loads((Path(__file__).parent / "data" / "debezium_twin_capture.json").read_text(encoding="utf-8"))
NAMES = list(CAPTURE["messages"])


class CapturedSchemas:
    """The writer schemas as the registry served them when the messages were captured."""

    def __init__(self):
        self.parsed = {int(i): parse_avro_schema(text, int(i)) for i, text in CAPTURE["schemas"].items()}
        self.asked: list[int] = []

    def writer_schema(self, schema_id: int):
        self.asked.append(schema_id)
        if schema_id not in self.parsed:
            raise DataError(f"schema id {schema_id} is not in the schema registry", code=ErrorCode.CHANGE_EVENT_UNDECODABLE)
        return self.parsed[schema_id]


def _json(name: str) -> tuple[bytes, bytes | None]:
    pair = CAPTURE["messages"][name]["json"]
    return pair["key"].encode(), pair["value"].encode() if pair["value"] is not None else None


def _avro(name: str) -> tuple[bytes, bytes | None]:
    pair = CAPTURE["messages"][name]["avro"]
    return base64.b64decode(pair["key"]), base64.b64decode(pair["value"]) if pair["value"] is not None else None


@pytest.fixture
def avro() -> AvroChangeDecoder:
    return AvroChangeDecoder(CapturedSchemas())


def _same(event):
    """The event without ``ts_ms``: when each of the two connectors handled the change (not the change)."""
    return event.model_copy(update={"ts_ms": None})


@pytest.mark.parametrize("name", NAMES)
def test_avro_decodes_to_the_same_change_event_as_json(avro, name):
    from_avro, from_json = avro(*_avro(name)), decode_change(*_json(name))
    assert _same(from_avro) == _same(from_json)
    assert from_avro.lsn == from_json.lsn and from_avro.source_ts_ms == from_json.source_ts_ms


def test_the_captured_pairs_are_really_avro_and_json(avro):
    key, value = _avro("insert_full_row")
    assert looks_framed(key) and looks_framed(value)
    assert len(value) < len(_json("insert_full_row")[1]) / 2  # Avro carries no field names
    event = avro(key, value)
    assert event.op is Op.CREATE and event.after.title == "청년 창업 지원사업"
    assert event.after.target_regions == ["서울", "경기"] and event.after.raw_data == {"nested": {"a": [1, 2]}}


def test_the_new_nullable_column_arrives_with_its_value(avro):
    assert avro(*_avro("insert_full_row")).after.support_amount_krw is None
    assert avro(*_avro("insert_after_column_values")).after.support_amount_krw == 70_000_000


def test_delete_and_tombstone_decode_as_removals(avro):
    deleted, tombstone = avro(*_avro("delete")), avro(*_avro("tombstone"))
    assert deleted.op is Op.DELETE and deleted.before is None and deleted.is_removal
    assert tombstone.tombstone and tombstone.policy_id == deleted.policy_id


def test_writer_schemas_are_fetched_once_each(avro):
    for name in NAMES:
        avro(*_avro(name))
    assert sorted(set(avro.schemas.asked)) == sorted(avro.schemas.parsed)
    decoder = AvroChangeDecoder(_CountingSource())
    for name in NAMES:
        decoder(*_avro(name))
    assert decoder.schemas.fetches == len(CAPTURE["schemas"])


class _CountingSource(CapturedSchemas):
    """Like ``RegistrySchemas``: the registry is asked only for ids it has not answered yet."""

    def __init__(self):
        super().__init__()
        self.cache: dict[int, object] = {}
        self.fetches = 0

    def writer_schema(self, schema_id: int):
        if schema_id not in self.cache:
            self.fetches += 1
            self.cache[schema_id] = super().writer_schema(schema_id)
        return self.cache[schema_id]


def test_json_messages_still_decode_after_switching_to_avro(avro):
    """A topic that switched profiles holds JSON then Avro messages: both decode, the same way."""
    for name in NAMES:
        assert avro(*_json(name)) == decode_change(*_json(name))


def test_the_json_decoder_says_what_to_do_with_an_avro_message():
    with pytest.raises(DataError) as caught:
        JsonChangeDecoder()(*_avro("insert_full_row"))
    assert caught.value.code is ErrorCode.CHANGE_EVENT_UNDECODABLE
    assert "CHANGE_EVENTS_FORMAT=avro" in caught.value.hint


@pytest.mark.parametrize("key, value, message", [
    (None, _avro("update_title")[1], "no integer id"),                    # no key at all
    (_avro("update_title")[0], b"\x00\x00\x00\x00\x57", "does not decode"),  # a header and no datum
    (b"\x00\x00\x00", b"{}", "not JSON"),                                  # too short to be framed
    (b"\x00\x00\x00\x03\xe7\x02", None, "not in the schema registry"),     # unknown schema id 999
])
def test_unusable_messages_are_data_errors(avro, key, value, message):
    with pytest.raises(DataError, match=message):
        avro(key, value)


def test_truncated_and_padded_datums_are_data_errors(avro):
    key, value = _avro("update_title")
    with pytest.raises(DataError, match="does not decode"):
        avro(key, value[:len(value) // 2])
    with pytest.raises(DataError, match="bytes after its Avro datum"):
        avro(key, value + b"\x00\x00")


def test_a_datum_under_the_wrong_schema_is_a_data_error(avro):
    key, value = _avro("insert_full_row")
    key_schema_id = unframe(key).schema_id
    with pytest.raises(DataError):
        avro(key, frame(key_schema_id, bytes(unframe(value).payload)))


def test_random_corruption_raises_only_data_errors(avro):
    rng = random.Random(20261126)
    originals = [_avro(name) for name in NAMES if _avro(name)[1] is not None]
    for _ in range(3000):
        key, value = rng.choice(originals)
        data = bytearray(value)
        for _ in range(rng.randint(1, 6)):
            position = rng.randrange(5, len(data))  # keep the header: corrupt the datum itself
            data[position] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[:rng.randrange(5, len(data))]
        try:
            avro(key, bytes(data))
        except DataError:
            pass


def test_wire_framing_round_trips():
    framed = frame(87, b"payload")
    assert looks_framed(framed) and unframe(framed).schema_id == 87 and bytes(unframe(framed).payload) == b"payload"
    assert not looks_framed(b'{"id": 1}') and not looks_framed(None) and not looks_framed(b"\x00\x00")


def test_build_decoder_follows_the_setting(monkeypatch):
    from aegis.settings import load_settings

    assert build_decoder(load_settings(env_file=None)).format == "json"
    monkeypatch.setenv("CHANGE_EVENTS_FORMAT", "avro")
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", "http://127.0.0.1:9")
    decoder = build_decoder(load_settings(env_file=None))
    assert decoder.format == "avro" and decoder.schemas.url == "http://127.0.0.1:9/apis/ccompat/v7"


def test_ping_asks_the_schema_source_and_json_needs_nothing():
    class _Source(CapturedSchemas):
        up = False

        def ping(self) -> bool:
            return self.up

    decoder = AvroChangeDecoder(_Source())
    assert JsonChangeDecoder().ping() is True and decoder.ping() is False
    decoder.schemas.up = True
    assert decoder.ping() is True


def test_document_reads_one_key_or_value_in_either_profile(avro):
    key, _ = _avro("update_title")
    json_key, _ = _json("update_title")
    assert avro.document(key, "key") == avro.document(json_key, "key") == JsonChangeDecoder().document(json_key, "key")
    assert avro.document(None, "value") is None
    with pytest.raises(DataError, match="Avro-framed"):
        JsonChangeDecoder().document(key, "key")
