"""Which embedding model built each Milvus collection, and whether it can read what it embeds.

Every collection of the alias (``<alias>_<model version>…``) carries its exact model version as its
description (``collection.build_schema``). An English-only model (all-MiniLM-L6-v2, the packaged
default of the local stack) turns Korean text into ``[UNK]`` pieces: its vectors of Korean
policies are meaningless for search. ``aegis status`` lists each collection with its model and
warns when an English-only model's collection holds Korean text (read from the collection's own
stored ``text`` of a sample of rows).
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from aegis.errors import AegisError
from aegis.settings import MilvusSettings
from cdc_sinks.milvus.collection import ACTIVE
from cdc_sinks.milvus.store import MilvusStore

# Families of sentence models trained on English only (sentence-transformers' all-*, multi-qa-*,
# msmarco-*, the BGE/E5/GTE English releases); a name saying multilingual or Korean is never one.
_ENGLISH_ONLY = re.compile(r"all-minilm|all-mpnet|all-distilroberta|all-roberta|multi-qa-|msmarco|"
                           r"bge-(small|base|large)-en|e5-(small|base|large)(-v2)?$|gte-(small|base|large)$",
                           re.IGNORECASE)
_MULTILINGUAL = re.compile(r"multilingual|paraphrase-xlm|labse|bge-m3|(^|[-_/])ko([-_/]|$)|korean|kor-|klue",
                           re.IGNORECASE)
_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")


def model_of(version: str) -> str:
    """The model part of a version string ``<model>/<backend>/<max tokens>`` (a path keeps its last part)."""
    parts = version.split("/")
    model = "/".join(parts[:-2]) if len(parts) >= 3 and parts[-1].isdigit() else version
    return model.rstrip("/").rsplit("/", 1)[-1] if model.startswith("/") else model


def english_only(version: str) -> bool:
    """Whether the model behind ``version`` is known to be trained on English text only."""
    model = model_of(version)
    return bool(_ENGLISH_ONLY.search(model)) and not _MULTILINGUAL.search(model)


def is_korean(text: str, *, share: float = 0.2) -> bool:
    """Whether Hangul makes up at least ``share`` of the letters of ``text``."""
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(1 for c in letters if _HANGUL.match(c)) / len(letters) >= share


class CollectionModel(BaseModel):
    """One collection of the alias: the model that built it and what a sample of its rows holds."""

    collection: str
    model_version: str
    current: bool
    english_only: bool
    rows_sampled: int | None = None
    korean_rows: int | None = None
    sample_error: str | None = None

    @property
    def warning(self) -> str | None:
        if self.english_only and self.korean_rows:
            return (f"milvus collection {self.collection} was built with the English-only model "
                    f"{model_of(self.model_version)!r}, but {self.korean_rows} of {self.rows_sampled} sampled rows "
                    "are Korean: their vectors mean nothing; set EMBEDDING_MODEL to a multilingual model and run "
                    "`aegis sinks reembed` (docs/milvus.md)")
        return None


def collection_models(settings: MilvusSettings, *, sample: int = 200) -> list[CollectionModel]:
    """Every collection of ``MILVUS_COLLECTION_ALIAS``, current one first. Raises ``AegisError`` when
    Milvus does not answer; a collection that cannot be read (released) has ``sample_error``."""
    store = MilvusStore(settings)
    alias = settings.collection_alias
    try:
        current = store.alias_target(alias)
        names = sorted(n for n in store.collections()
                       if n.startswith(f"{alias}_"))
        found = []
        for name in sorted(names, key=lambda n: n != current):
            version = store.description(name)
            entry = CollectionModel(collection=name, model_version=version, current=name == current,
                                    english_only=english_only(version))
            try:
                rows = store.query(name, ACTIVE, ["text"], limit=sample)
                entry.rows_sampled = len(rows)
                entry.korean_rows = sum(1 for row in rows if is_korean(row.get("text") or ""))
            except AegisError as exc:
                entry.sample_error = exc.message
            found.append(entry)
        return found
    finally:
        store.close()
