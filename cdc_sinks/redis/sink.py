"""The Redis cache sink: ``policy:{id}`` holds the active policy's JSON with a TTL.

Per policy the sink keeps three things (prefix ``SINKS_REDIS_KEY_PREFIX``, default ``policy:``):

* ``policy:{id}`` — the ``PolicyDocument`` JSON, expiring after ``SINKS_REDIS_TTL_SECONDS``;
* ``policy:{id}:v`` — a hash ``{lsn, hash, digest, member, removed}``, kept without TTL: the LSN
  guard and the removal marker (it outlives the cached document so a late replay cannot resurrect
  anything);
* ``policy:ids`` — a sorted set of the cached ids (score = id), so ``read_back`` pages by id. Each
  member is ``{id}:{row_digest}:{expires_at}`` (the document's expiry, Redis' clock in seconds):
  the reconciler's range checksums (``range_checksums``) are summed from the members by a Lua
  script, which checks only that each member's document still exists.

The reconciler's deep read (``read_records``) looks at all three per policy and names what does
not fit: a document without its version hash or outside the id set (partial), a member or digest
that contradicts the hash (metadata); ``stray_ids`` scans the key space for records the id set
does not list.

Every write is a Lua script (compare-and-set on the stored LSN per policy, atomic on the server),
one call per ``WRITES_PER_CALL`` policies, the calls pipelined per batch. LSNs are compared as
decimal strings, never as Lua doubles.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import orjson
import redis
from redis.commands.core import Script

from aegis.settings import Settings
from cdc_sinks.base import Defect, DefectKind, Removal, SinkRecord, StoredRecord, StoredVersion
from cdc_sinks.checksums import RangeChecksum, row_digest
from cdc_sinks.redis.errors import translate

# The casts below: redis-py types every command's answer ``Awaitable[Any] | Any`` (one annotation for
# its blocking and its asyncio client); this sink uses the blocking one.
from cdc_sinks.redis.scripts import (
    CHECKSUM_IDS_PER_CALL,
    CHECKSUM_SCRIPT,
    PURGE_SCRIPT,
    READ_BACK_SCRIPT,
    REMOVE_SCRIPT,
    UPSERT_SCRIPT,
)

SCAN_BATCH = 5000
"""Keys per SCAN step of ``stray_ids``."""

WRITES_PER_CALL = 200
"""Records one upsert or removal script call writes: Redis runs a script alone, so a call is kept short
(~200 policies: about a millisecond of the server's time)."""

READ_PIPELINE = 500
"""Policies per pipeline of ``read_records`` (three commands each)."""


class RedisSink:
    """Mirrors the active view into Redis (see module doc)."""

    name = "redis"

    def __init__(self, client: redis.Redis, *, key_prefix: str = "policy:", ttl_seconds: int = 86_400):
        self.client = client
        self.prefix = key_prefix
        self.ttl = ttl_seconds
        self.ids_key = f"{key_prefix}ids"
        self._upsert = client.register_script(UPSERT_SCRIPT)
        self._read_back = client.register_script(READ_BACK_SCRIPT)
        self._remove = client.register_script(REMOVE_SCRIPT)
        self._checksums = client.register_script(CHECKSUM_SCRIPT)
        self._purge = client.register_script(PURGE_SCRIPT)

    def doc_key(self, policy_id: int) -> str:
        return f"{self.prefix}{policy_id}"

    def version_key(self, policy_id: int) -> str:
        return f"{self.prefix}{policy_id}:v"

    def ensure_ready(self) -> None:
        try:
            self.client.ping()
            self.client.script_load(UPSERT_SCRIPT)
            self.client.script_load(REMOVE_SCRIPT)
        except redis.RedisError as exc:
            raise translate(exc, "set-up") from None

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False

    def describe(self) -> str:
        try:
            version = cast(dict, self.client.info("server"))["redis_version"]
        except redis.RedisError as exc:
            raise translate(exc, "info") from None
        kwargs = self.client.connection_pool.connection_kwargs
        return f"redis {version} at {kwargs.get('host')}:{kwargs.get('port')} (prefix {self.prefix!r})"

    def upsert_batch(self, records: Sequence[SinkRecord], *, rewrite: bool = False) -> None:
        """Every record through the LSN-guarded upsert script (every write rewrites document, version hash
        and member), ``WRITES_PER_CALL`` records per call."""
        self.write_batch(records, [])

    def remove_batch(self, removals: Sequence[Removal]) -> None:
        self.write_batch([], removals)

    def write_batch(self, records: Sequence[SinkRecord], removals: Sequence[Removal]) -> None:
        """The upsert and removal script calls in one pipeline."""
        calls: list[tuple[Script, list, list[list]]] = [
            (self._upsert, [self.prefix, self.ttl],
             [[r.policy_id, str(r.lsn), r.content_hash, r.document.to_json(), r.row_digest] for r in records]),
            (self._remove, [self.prefix], [[r.policy_id, str(r.lsn)] for r in removals])]
        try:
            self._pipelined([(script, head, rows) for script, head, rows in calls if rows])
        except redis.RedisError as exc:
            raise translate(exc, f"write of {len(records)} record(s) and {len(removals)} removal(s)") from None

    def _pipelined(self, calls: list[tuple[Script, list, list[list]]]) -> None:
        """Run each script over its records in order, ``WRITES_PER_CALL`` per call, all calls pipelined, by SHA.

        One call per record cost ~20 µs of the sink's CPU per record (redis-py packs and parses each
        command in Python); one call for many costs a few. redis-py's pipelined ``Script`` asks
        ``SCRIPT EXISTS`` first, a round trip per batch; here a script missing from the server (flushed
        by a restart) fails the pipeline with NOSCRIPT, and the scripts are loaded and the whole pipeline
        run again (every write is LSN-guarded: a repeat is a no-op).
        """
        if not calls:
            return
        for attempt in (1, 2):
            pipe = self.client.pipeline(transaction=False)
            for script, head, per_record in calls:
                for start in range(0, len(per_record), WRITES_PER_CALL):
                    args = [value for record in per_record[start:start + WRITES_PER_CALL] for value in record]
                    pipe.evalsha(script.sha, 1, self.ids_key, *head, *args)
            try:
                pipe.execute()
                return
            except redis.exceptions.NoScriptError:
                if attempt == 2:
                    raise
                for script, _, _ in calls:
                    script.sha = cast(str, self.client.script_load(script.script))

    def read_back(self, after_id: int, limit: int) -> list[StoredVersion]:
        """Cached policies with id > ``after_id`` by id; ids whose document expired are skipped."""
        try:
            flat = self._read_back(keys=[self.ids_key], args=[after_id, limit, self.prefix])
        except redis.RedisError as exc:
            raise translate(exc, "read-back") from None
        return [StoredVersion(policy_id=int(flat[i]), lsn=int(flat[i + 1]), content_hash=flat[i + 2].decode(),
                              row_digest=int(flat[i + 3]) if flat[i + 3] else None)
                for i in range(0, len(flat), 4)]

    def range_checksums(self, range_size: int, lo: int, hi: int | None) -> dict[int, RangeChecksum]:
        """Summed on the server by a Lua script, ``CHECKSUM_IDS_PER_CALL`` ids per call."""
        checksums: dict[int, RangeChecksum] = {}
        cursor = str(lo - 1)
        upper = "+inf" if hi is None else f"({hi}"
        while cursor:
            try:
                flat = self._checksums(keys=[self.ids_key],
                                       args=[cursor, upper, CHECKSUM_IDS_PER_CALL, self.prefix, range_size])
            except redis.RedisError as exc:
                raise translate(exc, "range checksums") from None
            cursor = flat[0].decode()
            for i in range(1, len(flat), 3):
                checksums.setdefault(int(flat[i]), RangeChecksum()).merge(
                    RangeChecksum(count=int(flat[i + 1]), digest=int(flat[i + 2])))
        return checksums

    def project(self, record: SinkRecord) -> dict[str, Any]:
        return record.document.model_dump(mode="json")

    def read_records(self, ids: Sequence[int]) -> dict[int, StoredRecord]:
        """Document, version hash and id-set member of each id, pipelined; Redis' clock tells what expired."""
        found: dict[int, StoredRecord] = {}
        try:
            now = int(cast(tuple, self.client.time())[0])
            for start in range(0, len(ids), READ_PIPELINE):
                chunk = ids[start:start + READ_PIPELINE]
                pipe = self.client.pipeline(transaction=False)
                for policy_id in chunk:
                    pipe.get(self.doc_key(policy_id))
                    pipe.hgetall(self.version_key(policy_id))
                    pipe.zrangebyscore(self.ids_key, policy_id, policy_id)
                answers = pipe.execute()
                for i, policy_id in enumerate(chunk):
                    record = self._stored_record(policy_id, *answers[3 * i:3 * i + 3], now=now)
                    if record is not None:
                        found[policy_id] = record
        except redis.RedisError as exc:
            raise translate(exc, "deep read") from None
        return found

    def _stored_record(self, policy_id: int, value: bytes | None, version_hash: dict[bytes, bytes],
                       members: list[bytes], *, now: int) -> StoredRecord | None:
        fields = {k.decode(): v.decode() for k, v in version_hash.items()}
        removed = fields.get("removed") == "1"
        live_members = [m.decode() for m in members]
        if value is None and (not fields or removed) and not live_members:
            return None  # never held, or only its removal marker: nothing a reader sees
        defects: list[Defect] = []
        version = None
        if fields and not removed:
            try:
                stored_digest = fields.get("digest", "")
                version = StoredVersion(policy_id, int(fields.get("lsn", "")), fields.get("hash", ""),
                                        row_digest=int(stored_digest) if stored_digest.isdigit() else None)
            except ValueError:
                defects.append(Defect(DefectKind.METADATA, f"version hash holds no LSN: {fields}"))
        expired = any((expires := _expires(m)) is not None and expires <= now for m in live_members)
        if value is not None and not fields:
            defects.append(Defect(DefectKind.PARTIAL, "cached document without its version hash"))
        elif value is not None and removed:
            defects.append(Defect(DefectKind.PARTIAL, "cached document under a removal marker"))
        elif value is None and version is not None and not expired:
            defects.append(Defect(DefectKind.PARTIAL, "version hash without its cached document"))
        if value is not None and not live_members:
            defects.append(Defect(DefectKind.PARTIAL, f"cached document not listed in {self.ids_key}"))
        if version is not None:
            digest = row_digest(policy_id, version.content_hash)
            if version.row_digest != digest:
                defects.append(Defect(DefectKind.METADATA, "version hash digest is not the digest of its hash"))
            if live_members and fields.get("member") not in live_members:
                defects.append(Defect(DefectKind.METADATA, f"id-set member {live_members} is not the one "
                                                           f"the version hash names ({fields.get('member')})"))
            elif live_members and not live_members[0].startswith(f"{policy_id}:{digest}:"):
                defects.append(Defect(DefectKind.METADATA, f"id-set member {live_members[0]} carries another digest"))
        if len(live_members) > 1:
            defects.append(Defect(DefectKind.METADATA, f"{len(live_members)} id-set members"))
        return StoredRecord(policy_id, version, None if value is None else _document(value), tuple(defects))

    def stray_ids(self) -> set[int]:
        """Ids of every document or live version hash under the prefix (SCAN: the id set is not asked)."""
        ids: set[int] = set()
        try:
            for key in self.client.scan_iter(match=f"{self.prefix}*", count=SCAN_BATCH):
                tail = key.decode()[len(self.prefix):]
                head = tail[:-2] if tail.endswith(":v") else tail
                if head.isdigit():
                    ids.add(int(head))
        except redis.RedisError as exc:
            raise translate(exc, "key scan") from None
        return ids

    def purge_markers(self, written_before: float, keep: set[int]) -> int:
        """Scan the version hashes; a Lua call per batch deletes those still markers older than the cut-off."""
        purged, batch = 0, []
        try:
            for key in self.client.scan_iter(match=f"{self.prefix}*:v", count=SCAN_BATCH):
                head = key.decode()[len(self.prefix):-2]
                if head.isdigit() and int(head) not in keep:
                    batch.append(key)
                if len(batch) >= SCAN_BATCH:
                    purged += int(self._purge(keys=batch, args=[int(written_before)]))
                    batch = []
            if batch:
                purged += int(self._purge(keys=batch, args=[int(written_before)]))
        except redis.RedisError as exc:
            raise translate(exc, "marker purge") from None
        return purged

    def count(self) -> int:
        total, after = 0, 0
        while True:
            page = self.read_back(after, 1000)
            total += len(page)
            if len(page) < 1000:
                return total
            after = page[-1].policy_id

    def drop_namespace(self) -> None:
        """Delete every key under this sink's prefix, markers included (tests, benchmarks)."""
        try:
            batch: list[bytes] = []
            for key in self.client.scan_iter(match=f"{self.prefix}*", count=1000):
                batch.append(key)
                if len(batch) == 1000:
                    self.client.delete(*batch)
                    batch = []
            if batch:
                self.client.delete(*batch)
        except redis.RedisError as exc:
            raise translate(exc, "namespace drop") from None

    def close(self) -> None:
        self.client.close()


def _expires(member: str) -> int | None:
    parts = member.split(":")
    return int(parts[2]) if len(parts) == 3 and parts[2].isdigit() else None


def _document(value: bytes) -> dict[str, Any]:
    """The cached JSON as a reader parses it; an unreadable value becomes a content no policy has."""
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError:
        return {"<unreadable>": value[:80].decode("utf-8", "replace")}
    return document if isinstance(document, dict) else {"<not an object>": str(document)[:80]}


def redis_client(settings: Settings) -> redis.Redis:
    """The cache's client: REDIS_HOST/PORT/DB, the ACL user and password, TLS (``RedisSettings.client_kwargs``)."""
    return redis.Redis(**settings.redis.client_kwargs(), socket_timeout=5, socket_connect_timeout=2)


def build_redis_sink(settings: Settings) -> RedisSink:
    return RedisSink(redis_client(settings), key_prefix=settings.sinks.redis_key_prefix,
                          ttl_seconds=settings.sinks.redis_ttl_seconds)
