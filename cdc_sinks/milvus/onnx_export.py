"""Export a sentence-transformers model's transformer to ONNX once, and quantise it to int8.

The export runs the torch model a single time (``torch.onnx.export``, dynamic batch and
sequence axes) and writes, under ``EMBEDDING_ONNX_CACHE_DIR/<model slug>/``:

* ``model.onnx`` — fp32 graph: token ids → last hidden state;
* ``model-int8.onnx`` — the same with MatMul weights dynamically quantised to int8, per channel
  (``onnxruntime.quantization.quantize_dynamic``);
* ``tokenizer/`` and ``embedding.json`` (pooling mode, dimension), so a later process loads the
  ONNX model without touching torch.

Files are written to a temporary name and renamed, so concurrent processes never read half a
file. Delete the directory after replacing a model's weights under the same name.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aegis.settings import EmbeddingSettings
from cdc_sinks.milvus.model_files import load_sentence_transformer

log = logging.getLogger(__name__)

OPSET = 14


@dataclass(frozen=True)
class ExportedModel:
    path: Path
    tokenizer: Any
    pooling: str
    dimension: int
    max_tokens: int


def cache_dir(settings: EmbeddingSettings) -> Path:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", settings.model).strip("_") or "model"
    return settings.onnx_cache_dir.resolve() / slug


def onnx_model_ready(settings: EmbeddingSettings) -> bool:
    """True when the configured ONNX backend's files are already in the cache (nothing to export)."""
    directory = cache_dir(settings)
    needed = [directory / "model.onnx", directory / "embedding.json"]
    if settings.backend == "onnx-int8":
        needed.append(directory / "model-int8.onnx")
    return all(path.exists() for path in needed)


def ensure_onnx_model(settings: EmbeddingSettings, *, quantized: bool) -> ExportedModel:
    """The exported (and, if asked, quantised) model, building what is missing."""
    from transformers import AutoTokenizer

    directory = cache_dir(settings)
    fp32 = directory / "model.onnx"
    meta_file = directory / "embedding.json"
    if not fp32.exists() or not meta_file.exists():
        _export(settings, directory)
    target = fp32
    if quantized:
        target = directory / "model-int8.onnx"
        if not target.exists():
            _quantize(fp32, target)
    meta = json.loads(meta_file.read_text())
    tokenizer = AutoTokenizer.from_pretrained(str(directory / "tokenizer"))
    max_tokens = min(settings.max_tokens, int(meta["max_seq_length"]))
    return ExportedModel(target, tokenizer, meta["pooling"], int(meta["dimension"]), max_tokens)


def _export(settings: EmbeddingSettings, directory: Path) -> None:
    import torch

    directory.mkdir(parents=True, exist_ok=True)
    model = load_sentence_transformer(settings)
    transformer, pooling_module = model[0], model[1]
    tokenizer = transformer.tokenizer
    pooling = "cls" if getattr(pooling_module, "pooling_mode_cls_token", False) else "mean"
    if not (pooling == "cls" or getattr(pooling_module, "pooling_mode_mean_tokens", False)):
        raise ValueError(f"{settings.model}: only mean or CLS pooling can be exported to ONNX")
    with_token_types = "token_type_ids" in tokenizer.model_input_names

    class LastHiddenState(torch.nn.Module):
        def __init__(self, auto_model):
            super().__init__()
            self.auto_model = auto_model

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                kwargs["token_type_ids"] = token_type_ids
            return self.auto_model(**kwargs, return_dict=False)[0]

    sample = tokenizer(["an example sentence", "another one"], return_tensors="pt", padding=True)
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if with_token_types else [])
    args = tuple(sample[name] for name in names)
    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    axes["last_hidden_state"] = {0: "batch", 1: "sequence"}
    wrapper = LastHiddenState(transformer.auto_model).eval()
    with tempfile.NamedTemporaryFile(dir=directory, suffix=".onnx.tmp", delete=False) as tmp:
        tmp_path = Path(tmp.name)
    with torch.no_grad():
        torch.onnx.export(wrapper, args, str(tmp_path), input_names=names, output_names=["last_hidden_state"],
                          dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True)
    tokenizer.save_pretrained(str(directory / "tokenizer"))
    meta = {"model": settings.model, "pooling": pooling, "dimension": model.get_sentence_embedding_dimension(),
            "max_seq_length": transformer.auto_model.config.max_position_embeddings, "opset": OPSET}
    _atomic_write(directory / "embedding.json", json.dumps(meta, indent=2))
    os.replace(tmp_path, directory / "model.onnx")
    log.info("embedding model exported to ONNX", extra={"path": str(directory / "model.onnx")})


def _quantize(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp_path = target.with_suffix(".onnx.tmp")
    # MatMul weights only, per output channel: quantising the embedding table (Gather) or using
    # one scale per tensor costs far more accuracy (mean cosine to fp32 0.95 vs 0.99 here).
    quantize_dynamic(str(source), str(tmp_path), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"])
    os.replace(tmp_path, target)
    log.info("embedding model quantised to int8", extra={"path": str(target)})


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
