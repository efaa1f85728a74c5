"""Each target through its own client only — OpenSearch REST, Redis commands, Cypher, pymilvus — never the sinks' code.

The drift matrix makes drift with these (what an operator or another program would do by hand) and
reads the targets back with them to check a repair for itself; the sinks' own integration tests read
what a sink wrote with them (a search as a reader runs it, the cached JSON a cache reader gets).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import neo4j
import numpy as np
import redis as redis_client
from pymilvus import MilvusClient

from aegis.settings import Settings
from cdc_sinks.checksums import row_digest

OLD_HASH = "0" * 64
EDITED_HASH = "1" * 64


class NativeSearch:
    name = "search"

    def __init__(self, settings: Settings):
        self.http = httpx.Client(base_url=settings.search.url, timeout=30)
        self.alias = settings.search.index_alias

    def index(self) -> str:
        return sorted(self.http.get(f"/_alias/{self.alias}").json())[0]

    def _update(self, policy_id: int, body: dict) -> None:
        answer = self.http.post(f"/{self.index()}/_update/{policy_id}", params={"refresh": "true"}, json=body)
        assert answer.status_code == 200, answer.text

    def missing(self, policy_id: int) -> None:
        assert self.http.delete(f"/{self.index()}/_doc/{policy_id}", params={"refresh": "true"}).status_code == 200

    def orphan(self, policy_id: int) -> None:
        """A document put straight into the index behind the alias."""
        body = {"id": policy_id, "title": "PostgreSQL never had this", "status": "active", "removed": False,
                "lsn": 1, "content_hash": "f" * 64}
        assert self.http.put(f"/{self.index()}/_doc/{policy_id}", params={"refresh": "true"},
                             json=body).status_code in (200, 201)

    def stale(self, policy_id: int) -> None:
        self._update(policy_id, {"doc": {"title": "an older title", "content_hash": OLD_HASH,
                                         "row_digest": row_digest(policy_id, OLD_HASH)}})

    def content(self, policy_id: int) -> None:
        self._update(policy_id, {"doc": {"title": "edited by hand"}})

    def metadata(self, policy_id: int) -> None:
        """Through ``_update``: the engine's own version goes up by one, above the stored LSN."""
        self._update(policy_id, {"doc": {"content_hash": EDITED_HASH}})

    def partial(self, policy_id: int) -> None:
        """The document indexed again without one of its fields (the engine's own index API)."""
        source = self.http.get(f"/{self.index()}/_doc/{policy_id}").json()["_source"]
        del source["content"]
        assert self.http.put(f"/{self.index()}/_doc/{policy_id}", params={"refresh": "true"},
                             json=source).status_code == 200

    def wipe(self) -> None:
        assert self.http.delete(f"/{self.index()}").status_code == 200

    def match(self, text: str, size: int = 10) -> list[int]:
        """Ids of the documents behind the alias whose title or content matches ``text``, best first
        (a reader's full-text search; removal markers never match a reader's query)."""
        body = {"size": size, "_source": False,
                "query": {"multi_match": {"query": text, "fields": ["title^3", "content"]}}}
        answer = self.http.post(f"/{self.alias}/_search", json=body)
        assert answer.status_code == 200, answer.text
        return [int(hit["_id"]) for hit in answer.json()["hits"]["hits"]]

    def read(self, policy_id: int) -> dict[str, Any] | None:
        answer = self.http.get(f"/{self.alias}/_doc/{policy_id}")
        if answer.status_code == 404 or not answer.json().get("found"):
            return None
        source = answer.json()["_source"]
        return None if source.get("removed") else source

    def close(self) -> None:
        self.http.close()


class NativeRedis:
    name = "redis"

    def __init__(self, settings: Settings):
        r = settings.redis
        self.client = redis_client.Redis(host=r.host, port=r.port, db=r.db, decode_responses=True)
        self.prefix = settings.sinks.redis_key_prefix

    def document(self, policy_id: int) -> str | None:
        """The cached JSON of one policy, as a cache reader GETs it (None: not cached)."""
        return self.client.get(f"{self.prefix}{policy_id}")

    def missing(self, policy_id: int) -> None:
        self.client.delete(f"{self.prefix}{policy_id}", f"{self.prefix}{policy_id}:v")
        self.client.zremrangebyscore(f"{self.prefix}ids", policy_id, policy_id)

    def orphan(self, policy_id: int) -> None:
        """A key under the prefix that the id set does not list (written by some other program)."""
        self.client.set(f"{self.prefix}{policy_id}", json.dumps({"id": policy_id, "title": "stray"}))

    def stale(self, policy_id: int) -> None:
        key = f"{self.prefix}{policy_id}"
        value = json.loads(self.client.get(key))
        value["title"] = "an older title"
        self.client.set(key, json.dumps(value, ensure_ascii=False), keepttl=True)
        digest = row_digest(policy_id, OLD_HASH)
        [member] = self.client.zrangebyscore(f"{self.prefix}ids", policy_id, policy_id)
        moved = f"{policy_id}:{digest}:{member.split(':')[2]}"
        self.client.zrem(f"{self.prefix}ids", member)
        self.client.zadd(f"{self.prefix}ids", {moved: policy_id})
        self.client.hset(f"{key}:v", mapping={"hash": OLD_HASH, "digest": digest, "member": moved})

    def content(self, policy_id: int) -> None:
        self.client.set(f"{self.prefix}{policy_id}", "garbage, not a policy", keepttl=True)

    def metadata(self, policy_id: int) -> None:
        self.client.hset(f"{self.prefix}{policy_id}:v", "hash", EDITED_HASH)

    def partial(self, policy_id: int) -> None:
        self.client.delete(f"{self.prefix}{policy_id}:v")

    def wipe(self) -> None:
        keys = list(self.client.scan_iter(match=f"{self.prefix}*", count=1000))
        if keys:
            self.client.delete(*keys)

    def read(self, policy_id: int) -> dict[str, Any] | None:
        value = self.client.get(f"{self.prefix}{policy_id}")
        if value is None:
            return None
        document = json.loads(value)
        document["content_hash"] = self.client.hget(f"{self.prefix}{policy_id}:v", "hash")
        document["in_id_set"] = bool(self.client.zrangebyscore(f"{self.prefix}ids", policy_id, policy_id))
        return document

    def close(self) -> None:
        self.client.close()


class NativeNeo4j:
    name = "neo4j"

    def __init__(self, settings: Settings):
        n = settings.neo4j
        self.driver = neo4j.GraphDatabase.driver(n.bolt_uri, auth=(n.user, n.password.get_secret_value()))
        self.database = n.database
        self.namespace = n.namespace
        self.policy = f"`{n.namespace}Policy`"

    def _run(self, cypher: str, **params: Any) -> list[dict]:
        records, _, _ = self.driver.execute_query(cypher, database_=self.database, **params)
        return [r.data() for r in records]

    def missing(self, policy_id: int) -> None:
        self._run(f"MATCH (p:{self.policy} {{id: $id}}) DETACH DELETE p", id=policy_id)

    def orphan(self, policy_id: int) -> None:
        self._run(f"CREATE (:{self.policy} {{id: $id, title: 'PostgreSQL never had this', lsn: 1, "
                  "content_hash: $hash})", id=policy_id, hash="f" * 64)

    def stale(self, policy_id: int) -> None:
        self._run(f"MATCH (p:{self.policy} {{id: $id}}) SET p.title = 'an older title', p.content_hash = $hash, "
                  "p.row_digest = $digest", id=policy_id, hash=OLD_HASH, digest=row_digest(policy_id, OLD_HASH))

    def content(self, policy_id: int) -> None:
        self._run(f"MATCH (p:{self.policy} {{id: $id}}) SET p.title = 'edited by hand'", id=policy_id)

    def metadata(self, policy_id: int) -> None:
        self._run(f"MATCH (p:{self.policy} {{id: $id}}) SET p.content_hash = $hash", id=policy_id, hash=EDITED_HASH)

    def partial(self, policy_id: int) -> None:
        self._run(f"MATCH (p:{self.policy} {{id: $id}})-[r]->() DELETE r", id=policy_id)

    def wipe(self) -> None:
        self._run("MATCH (n) WHERE any(label IN labels(n) WHERE label STARTS WITH $ns) DETACH DELETE n",
                  ns=self.namespace)

    def read(self, policy_id: int) -> dict[str, Any] | None:
        rows = self._run(f"MATCH (p:{self.policy} {{id: $id}}) OPTIONAL MATCH (p)-[r]->() "
                         "RETURN p {.*} AS node, count(r) AS edges", id=policy_id)
        if not rows:
            return None
        return {**rows[0]["node"], "edges": rows[0]["edges"]}

    def close(self) -> None:
        self.driver.close()


class NativeMilvus:
    name = "milvus"

    def __init__(self, settings: Settings):
        m = settings.milvus
        self.client = MilvusClient(uri=m.uri or f"http://{m.host}:{m.port}", db_name=m.db_name)
        self.alias = m.collection_alias

    def _row(self, policy_id: int) -> dict:
        [row] = self.client.query(self.alias, filter=f"id == {policy_id}", output_fields=["*"],
                                  consistency_level="Strong")
        row["vector"] = [float(x) for x in row["vector"]]
        row["regions"] = list(row["regions"] or [])
        return row

    def _upsert(self, row: dict) -> None:
        self.client.upsert(self.alias, [row])

    def missing(self, policy_id: int) -> None:
        self.client.delete(self.alias, ids=[policy_id])

    def orphan(self, policy_id: int, *, like: int) -> None:
        row = self._row(like)
        row.update(id=policy_id, title="PostgreSQL never had this", lsn=1)
        self._upsert(row)

    def stale(self, policy_id: int) -> None:
        self._upsert({**self._row(policy_id), "title": "an older title", "content_hash": OLD_HASH})

    def content(self, policy_id: int) -> None:
        self._upsert({**self._row(policy_id), "title": "edited by hand"})

    def metadata(self, policy_id: int) -> None:
        self._upsert({**self._row(policy_id), "content_hash": EDITED_HASH})

    def partial(self, policy_id: int) -> None:
        row = self._row(policy_id)
        self._upsert({**row, "vector": [0.0] * len(row["vector"])})

    def wipe(self) -> None:
        collection = self.client.describe_alias(self.alias)["collection_name"]
        self.client.drop_alias(self.alias)
        self.client.drop_collection(collection)

    def read(self, policy_id: int) -> dict[str, Any] | None:
        rows = self.client.query(self.alias, filter=f"id == {policy_id} and removed == false",
                                 output_fields=["*"], consistency_level="Strong")
        if not rows:
            return None
        row = rows[0]
        row["norm"] = float(np.linalg.norm(np.asarray(row.pop("vector"), dtype=np.float32)))
        return row

    def close(self) -> None:
        self.client.close()


NATIVE = {"search": NativeSearch, "redis": NativeRedis, "neo4j": NativeNeo4j, "milvus": NativeMilvus}
"""The test's own clients, one per sink of the registry (a new sink adds its own here)."""
