"""Sentence embeddings on CPU: sentence-transformers (torch) or the same model under ONNX Runtime.

One ``Embedder`` per process and configuration (``get_embedder``): loading a model costs
seconds and hundreds of MB, so the sink, the reembed command and the benchmarks share it.
Every backend returns L2-normalised float32 vectors (Milvus searches them by inner product,
which is then the cosine), truncates each text to ``EMBEDDING_MAX_TOKENS`` model tokens and
encodes in batches of ``EMBEDDING_BATCH_SIZE`` texts of similar length (sorted by length first,
so a batch pads little). ``stats`` counts model calls and texts, so tests can prove that an
unchanged text is never embedded twice.

Backends (``EMBEDDING_BACKEND``):

* ``torch`` — ``SentenceTransformer.encode``, the fp32 reference;
* ``onnx`` — the model's transformer exported once to ONNX (``onnx_export``), run by ONNX
  Runtime, pooled and normalised here exactly as sentence-transformers does;
* ``onnx-int8`` — the same graph with dynamically quantised int8 weights (faster, slightly
  different vectors: see bench/RESULTS.md for the speed/cosine trade-off).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from aegis.settings import EmbeddingSettings
from cdc_sinks.milvus.model_files import load_sentence_transformer
from cdc_sinks.milvus.onnx_export import ensure_onnx_model

log = logging.getLogger(__name__)

@dataclass
class EmbedderStats:
    """What an embedder has done since it was loaded."""

    calls: int = 0
    texts: int = 0
    seconds: float = 0.0


class Embedder(Protocol):
    version: str
    dimension: int
    stats: EmbedderStats

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised float32 vectors, one row per text, in input order."""


class SentenceTransformerEmbedder:
    """The fp32 reference: ``SentenceTransformer.encode`` (which sorts by length itself)."""

    def __init__(self, settings: EmbeddingSettings):
        self.settings = settings
        self.model = load_sentence_transformer(settings)
        self.version = settings.version
        self.dimension = int(self.model.get_sentence_embedding_dimension())
        self.stats = EmbedderStats()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        started = time.perf_counter()
        vectors = self.model.encode(list(texts), batch_size=self.settings.batch_size, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
        self.stats.calls += 1
        self.stats.texts += len(texts)
        self.stats.seconds += time.perf_counter() - started
        return np.asarray(vectors, dtype=np.float32)


class OnnxEmbedder:
    """The model's transformer under ONNX Runtime; tokenisation, pooling and normalisation here."""

    def __init__(self, settings: EmbeddingSettings):
        import onnxruntime as ort


        self.settings = settings
        exported = ensure_onnx_model(settings, quantized=settings.backend == "onnx-int8")
        self.tokenizer = exported.tokenizer
        self.pooling = exported.pooling
        self.dimension = exported.dimension
        self.max_tokens = exported.max_tokens
        options = ort.SessionOptions()
        if settings.num_threads:
            options.intra_op_num_threads = settings.num_threads
        self.session = ort.InferenceSession(str(exported.path), options, providers=["CPUExecutionProvider"])
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.version = settings.version
        self.stats = EmbedderStats()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        started = time.perf_counter()
        encoded = self.tokenizer(list(texts), truncation=True, max_length=self.max_tokens, padding=False)
        order = sorted(range(len(texts)), key=lambda i: len(encoded["input_ids"][i]), reverse=True)
        result = np.zeros((len(texts), self.dimension), dtype=np.float32)
        size = self.settings.batch_size
        for start in range(0, len(order), size):
            chunk = order[start:start + size]
            result[chunk] = self._encode_batch([encoded["input_ids"][i] for i in chunk])
        self.stats.calls += 1
        self.stats.texts += len(texts)
        self.stats.seconds += time.perf_counter() - started
        return result

    def _encode_batch(self, token_ids: list[list[int]]) -> np.ndarray:
        width = max(len(ids) for ids in token_ids)
        input_ids = np.zeros((len(token_ids), width), dtype=np.int64)
        attention = np.zeros((len(token_ids), width), dtype=np.int64)
        for row, ids in enumerate(token_ids):
            input_ids[row, :len(ids)] = ids
            attention[row, :len(ids)] = 1
        feed = {"input_ids": input_ids, "attention_mask": attention}
        if "token_type_ids" in self.input_names:
            feed["token_type_ids"] = np.zeros_like(input_ids)
        hidden = self.session.run(None, feed)[0]
        if self.pooling == "cls":
            pooled = hidden[:, 0, :]
        else:
            mask = attention[:, :, None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


_LOADED: dict[tuple, Embedder] = {}
_LOCK = threading.Lock()


def get_embedder(settings: EmbeddingSettings) -> Embedder:
    """The process-wide embedder for this configuration, loaded on first use."""
    key = (settings.model, settings.backend, settings.max_tokens, settings.batch_size, settings.num_threads,
           settings.version, str(settings.onnx_cache_dir))
    with _LOCK:
        embedder = _LOADED.get(key)
        if embedder is None:
            started = time.perf_counter()
            embedder = SentenceTransformerEmbedder(settings) if settings.backend == "torch" else OnnxEmbedder(settings)
            log.info("embedding model loaded", extra={"model": settings.model, "backend": settings.backend,
                                                      "dimension": embedder.dimension,
                                                      "seconds": round(time.perf_counter() - started, 2)})
            _LOADED[key] = embedder
        return embedder


class LazyEmbedder:
    """``get_embedder(settings)``, loaded on first use of the model; ``version`` needs no model.

    A sink built only to count or compare versions (``aegis status``, the main job's progress,
    a consistent reconcile pass) never pays the model's seconds and hundreds of MB.
    """

    def __init__(self, settings: EmbeddingSettings):
        self._settings = settings
        self.version = settings.version

    def __getattr__(self, name: str):  # dimension, stats, embed: the loaded embedder's
        return getattr(get_embedder(self._settings), name)
