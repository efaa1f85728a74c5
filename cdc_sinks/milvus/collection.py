"""The Milvus collection of policy vectors: schema, index, naming and the row a policy becomes.

One collection per embedding model version, named ``<alias>_<version slug>_<hash>`` with the
exact model version as its description; the alias (``MILVUS_COLLECTION_ALIAS``) points at the
live one. Fields (docs/milvus.md):

=====================  =====================================================================
``id``                 INT64 primary key = policy id
``vector``             FLOAT_VECTOR, the model's dimension, L2-normalised (IP = cosine)
``removed``            BOOL: a removal marker (searches and read-back filter ``removed == false``)
``lsn``                INT64: source LSN the row was built from (``FINAL_LSN`` after a delete)
``content_hash``       the policy's content hash when embedded
``model_version``      the embedder version that produced ``vector`` ("" for a blank marker)
``status``             policy status (``active`` for every live row); a marker's ``removed:<epoch s>``
``organisation``       issuing organisation
``regions``            ARRAY<VARCHAR> of target regions (``array_contains`` filters)
``support_field``      support field (지원분야)
``application_end``    application end date as INT64 YYYYMMDD, 0 when open-ended or unknown
``title``, ``text``    title and the cleaned source text (re-embedding needs no PostgreSQL)
=====================  =====================================================================
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from datetime import date

from aegis.settings import MilvusSettings
from cdc_sinks.base import SinkRecord
from cdc_sinks.milvus.text import embedding_text

MAX_REGIONS = 32
LIMITS = {  # VARCHAR max_length is in bytes (UTF-8: 3 per Hangul syllable)
    "content_hash": 128,
    "model_version": 256,
    "status": 32,
    "organisation": 768,
    "region": 96,
    "support_field": 384,
    "title": 1536,
    "text": 8192,
}
SCALAR_FIELDS = ["id", "removed", "lsn", "content_hash", "model_version", "status", "organisation", "regions",
                 "support_field", "application_end", "title", "text"]
ALL_FIELDS = [*SCALAR_FIELDS, "vector"]
ACTIVE = "removed == false"


def collection_name(alias: str, model_version: str) -> str:
    """``<alias>_<slug>_<hash8>``: valid Milvus name, unique per model version."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", model_version).strip("_")[:80]
    digest = hashlib.sha256(model_version.encode()).hexdigest()[:8]
    return f"{alias}_{slug}_{digest}"


# Versions stamped before the version named the vectors named the backend: `torch` and `onnx`
# (fp32) compute the same vectors (bench/sinks/milvus_bench.py same-vectors: largest element
# difference 3.5e-7, the same 10 nearest neighbours for 2,000 of 2,000 texts).
_FP32_NAMES = ("torch", "onnx", "fp32")


def same_vectors(version: str, other: str) -> bool:
    """Whether two model versions stand for the same vectors (``…/torch/128`` is ``…/fp32/128``)."""
    return version == other or _fp32_form(version) == _fp32_form(other)


def _fp32_form(version: str) -> str:
    model, _, rest = version.rpartition("/")
    model, _, vectors = model.rpartition("/")
    return f"{model}/fp32/{rest}" if model and rest.isdigit() and vectors in _FP32_NAMES else version


def fit(text: str | None, field: str) -> str:
    """``text`` cut to the field's byte limit on a character boundary."""
    raw = (text or "").encode("utf-8")
    limit = LIMITS[field]
    return raw[:limit].decode("utf-8", "ignore") if len(raw) > limit else (text or "")


def end_date_number(value: date | None) -> int:
    return value.year * 10000 + value.month * 100 + value.day if value else 0


def build_schema(dimension: int, model_version: str):
    """The collection schema; its description is the exact model version of its vectors."""
    from pymilvus import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False, description=model_version)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    schema.add_field("removed", DataType.BOOL)
    schema.add_field("lsn", DataType.INT64)
    schema.add_field("content_hash", DataType.VARCHAR, max_length=LIMITS["content_hash"])
    schema.add_field("model_version", DataType.VARCHAR, max_length=LIMITS["model_version"])
    schema.add_field("status", DataType.VARCHAR, max_length=LIMITS["status"])
    schema.add_field("organisation", DataType.VARCHAR, max_length=LIMITS["organisation"])
    schema.add_field("regions", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=MAX_REGIONS,
                     max_length=LIMITS["region"])
    schema.add_field("support_field", DataType.VARCHAR, max_length=LIMITS["support_field"])
    schema.add_field("application_end", DataType.INT64)
    schema.add_field("title", DataType.VARCHAR, max_length=LIMITS["title"])
    schema.add_field("text", DataType.VARCHAR, max_length=LIMITS["text"])
    return schema


def index_params(milvus: MilvusSettings) -> dict:
    """Vector index for ``MILVUS_INDEX_TYPE`` (metric IP on normalised vectors = cosine)."""
    params: dict = {}
    if milvus.index_type == "HNSW":
        params = {"M": milvus.hnsw_m, "efConstruction": milvus.hnsw_ef_construction}
    elif milvus.index_type == "IVF_FLAT":
        params = {"nlist": 256}
    return {"field_name": "vector", "index_type": milvus.index_type, "metric_type": "IP", "params": params}


def search_params(milvus: MilvusSettings) -> dict:
    params: dict = {}
    if milvus.index_type == "HNSW":
        params = {"ef": milvus.search_ef}
    elif milvus.index_type == "IVF_FLAT":
        params = {"nprobe": 16}
    return {"metric_type": "IP", "params": params}


@dataclass(frozen=True)
class StoredRow:
    """What the collection holds for one policy (vector only when asked for)."""

    policy_id: int
    lsn: int
    content_hash: str
    model_version: str
    removed: bool
    entity: dict

    @classmethod
    def from_entity(cls, entity: dict) -> StoredRow:
        return cls(int(entity["id"]), int(entity["lsn"]), entity.get("content_hash", ""),
                   entity.get("model_version", ""), bool(entity.get("removed")), entity)


def record_entity(record: SinkRecord, text: str, vector: list[float], model_version: str) -> dict:
    """The row for an active policy."""
    doc = record.document
    return {
        "id": record.policy_id,
        "vector": vector,
        "removed": False,
        "lsn": record.lsn,
        "content_hash": fit(record.content_hash, "content_hash"),
        "model_version": fit(model_version, "model_version"),
        "status": fit(doc.status, "status"),
        "organisation": fit(doc.issuing_organization, "organisation"),
        "regions": [fit(r, "region") for r in doc.target_regions[:MAX_REGIONS]],
        "support_field": fit(doc.support_field, "support_field"),
        "application_end": end_date_number(doc.application_end_date),
        "title": fit(doc.title, "title"),
        "text": fit(text, "text"),
    }


def source_text(record: SinkRecord) -> str:
    return embedding_text(record.document)


MARKER_STATUS = "removed:"
"""A marker row's ``status`` is ``removed:<epoch seconds>``: when it was written (Milvus 2.3 cannot add a
field to an existing collection, and a marker's status is read by nothing else)."""


def marker_status(at: float | None = None) -> str:
    return f"{MARKER_STATUS}{int(time.time() if at is None else at)}"


def marker_written_at(status: str) -> int:
    """When a marker row was written (0: before markers carried it)."""
    tail = status[len(MARKER_STATUS):] if status.startswith(MARKER_STATUS) else ""
    return int(tail) if tail.isdigit() else 0


def blank_marker(policy_id: int, lsn: int, dimension: int) -> dict:
    """A removal marker without content (a delete, or nothing was stored)."""
    return {"id": policy_id, "vector": [0.0] * dimension, "removed": True, "lsn": lsn, "content_hash": "",
            "model_version": "", "status": marker_status(), "organisation": "", "regions": [], "support_field": "",
            "application_end": 0, "title": "", "text": ""}


def kept_marker(stored: StoredRow, lsn: int) -> dict:
    """A removal marker that keeps the stored vector and text, so re-activation of unchanged
    content needs no model call."""
    entity = {name: stored.entity[name] for name in ALL_FIELDS}
    entity["vector"] = [float(x) for x in entity["vector"]]
    entity["regions"] = list(entity["regions"] or [])
    entity.update(removed=True, lsn=lsn, status=marker_status())
    return entity
