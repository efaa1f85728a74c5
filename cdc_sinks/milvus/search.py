"""Semantic search over the live collection, with filters on the scalar fields.

Searches go through the alias (the current model version's collection) and always exclude
removal markers. Filters are typed and rendered to a Milvus boolean expression here, with
string values escaped, so callers never build expressions by hand.
"""

from __future__ import annotations

import json
from datetime import date

from pydantic import BaseModel, ConfigDict

from aegis.settings import MilvusSettings
from cdc_sinks.milvus.collection import ACTIVE, end_date_number, search_params
from cdc_sinks.milvus.embedder import Embedder
from cdc_sinks.milvus.store import MilvusStore


class SearchFilter(BaseModel):
    """Scalar conditions, all of which must hold (None: no condition)."""

    model_config = ConfigDict(frozen=True)

    status: str | None = None
    organisation: str | None = None
    region: str | None = None
    support_field: str | None = None
    open_on: date | None = None
    """Application still open on this day: end date on or after it, or open-ended (0)."""

    def expression(self) -> str:
        parts = [ACTIVE]
        if self.status is not None:
            parts.append(f"status == {_quote(self.status)}")
        if self.organisation is not None:
            parts.append(f"organisation == {_quote(self.organisation)}")
        if self.region is not None:
            parts.append(f"array_contains(regions, {_quote(self.region)})")
        if self.support_field is not None:
            parts.append(f"support_field == {_quote(self.support_field)}")
        if self.open_on is not None:
            parts.append(f"(application_end >= {end_date_number(self.open_on)} or application_end == 0)")
        return " and ".join(parts)


class SearchHit(BaseModel):
    policy_id: int
    score: float
    title: str


def _quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a double-quoted literal with \" and \\ escaped


class VectorSearch:
    """Nearest policies to a text, by cosine similarity of their embeddings."""

    def __init__(self, store: MilvusStore, milvus: MilvusSettings, embedder: Embedder):
        self.store = store
        self.settings = milvus
        self.embedder = embedder

    def search(self, text: str, *, where: SearchFilter | None = None, limit: int = 5) -> list[SearchHit]:
        vector = self.embedder.embed([text])[0].tolist()
        expression = (where or SearchFilter()).expression()
        results = self.store.run(lambda c: c.search(
            self.settings.collection_alias, [vector], filter=expression, limit=limit, output_fields=["title"],
            search_params=search_params(self.settings), consistency_level=self.settings.consistency_level,
            timeout=self.store.timeout), "search")
        return [SearchHit(policy_id=int(hit["id"]), score=float(hit["distance"]), title=hit["entity"]["title"])
                for hit in results[0]]
