"""The Redis cache sink: ``policy:{id}`` holds the active policy's JSON with a TTL.

Per policy the sink keeps three things (prefix ``SINKS_REDIS_KEY_PREFIX``, default ``policy:``):

* ``policy:{id}`` — the ``PolicyDocument`` JSON, expiring after ``SINKS_REDIS_TTL_SECONDS``;
* ``policy:{id}:v`` — a hash ``{lsn, hash, digest, member, removed}``, kept without TTL: the LSN
  guard and the removal marker (it outlives the cached document so a late replay cannot resurrect
  anything);
* ``policy:ids`` — a sorted set of the cached ids (score = id), so ``read_back`` pages by id. Each
  member is ``{id}:{row_digest}:{expires_at}`` (the document's expiry, Redis' clock in seconds):
  the reconciler's range checksums (``range_checksums``) are summed from the members alone by a
  Lua script, without touching a million keys. A member written before this layout is just
  ``{id}``; the scripts still read those through the record's keys.

Every write is one Lua script per policy (compare-and-set on the stored LSN, atomic on the
server), pipelined per batch. LSNs are compared as decimal strings, never as Lua doubles.
"""

from __future__ import annotations

from typing import Sequence

import redis
from redis.commands.core import Script

from aegis.errors import ErrorCode, TerminalError, TransientError
from aegis.settings import Settings
from cdc_sinks.base import Removal, SinkRecord, StoredVersion
from cdc_sinks.checksums import RangeChecksum

_LSN_LT = """
local function lsn_lt(a, b)
  if #a ~= #b then return #a < #b end
  return a < b
end
"""

_MEMBERS = """
local function member_id(member)
  return string.match(member, '^[^:]+')
end
"""

UPSERT_SCRIPT = _LSN_LT + """
local stored = redis.call('HGET', KEYS[2], 'lsn')
if stored and lsn_lt(ARGV[1], stored) then return 0 end
redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
local member = ARGV[5] .. ':' .. ARGV[6] .. ':' .. (tonumber(redis.call('TIME')[1]) + tonumber(ARGV[4]))
local previous = redis.call('HGET', KEYS[2], 'member')
if previous then redis.call('ZREM', KEYS[3], previous) end
redis.call('ZREM', KEYS[3], ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[5], member)
redis.call('HSET', KEYS[2], 'lsn', ARGV[1], 'hash', ARGV[2], 'digest', ARGV[6], 'member', member, 'removed', '0')
return 1
"""

REMOVE_SCRIPT = _LSN_LT + """
local stored = redis.call('HGET', KEYS[2], 'lsn')
if stored and lsn_lt(ARGV[1], stored) then return 0 end
redis.call('DEL', KEYS[1])
local previous = redis.call('HGET', KEYS[2], 'member')
if previous then redis.call('ZREM', KEYS[3], previous) end
redis.call('ZREM', KEYS[3], ARGV[2])
redis.call('HSET', KEYS[2], 'lsn', ARGV[1], 'hash', '', 'digest', '', 'member', '', 'removed', '1')
return 1
"""

READ_BACK_SCRIPT = _MEMBERS + """
local found, cursor, limit, prefix = {}, ARGV[1], tonumber(ARGV[2]), ARGV[3]
local n = 0
while n < limit do
  local members = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. cursor, '+inf', 'LIMIT', 0, limit)
  if #members == 0 then break end
  for _, member in ipairs(members) do
    local id = member_id(member)
    if redis.call('EXISTS', prefix .. id) == 1 then
      local v = redis.call('HMGET', prefix .. id .. ':v', 'lsn', 'hash', 'removed', 'digest')
      if v[1] and v[3] ~= '1' then
        found[#found + 1] = id
        found[#found + 1] = v[1]
        found[#found + 1] = v[2]
        found[#found + 1] = v[4] or ''
        n = n + 1
        if n == limit then return found end
      end
    end
  end
  cursor = member_id(members[#members])
end
return found
"""
"""One page of ``read_back`` in one round trip: ``[id, lsn, hash, digest, …]`` of cached, not removed policies.

It derives the document and version keys from the ids it reads, so it suits a single Redis server
(the local stack's, or a primary with replicas), not Redis Cluster."""

CHECKSUM_SCRIPT = _MEMBERS + """
local cursor, hi, limit, prefix, width = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local now = tonumber(redis.call('TIME')[1])
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. cursor, hi, 'LIMIT', 0, limit)
local counts, sums, order = {}, {}, {}
for _, member in ipairs(members) do
  local id, digest, expires = string.match(member, '^([^:]+):([^:]*):([^:]+)$')
  local counted = false
  if id then
    counted = tonumber(expires) > now
  else  -- a member written before digests were kept in it: ask the record itself
    id = member
    if redis.call('EXISTS', prefix .. id) == 1 then
      local v = redis.call('HMGET', prefix .. id .. ':v', 'lsn', 'removed', 'digest')
      counted, digest = (v[1] and v[2] ~= '1') and true or false, v[3]
    end
  end
  if counted then
    local r = math.floor(tonumber(id) / width)
    if counts[r] == nil then
      counts[r], sums[r] = 0, 0
      order[#order + 1] = r
    end
    counts[r] = counts[r] + 1
    sums[r] = sums[r] + (tonumber(digest) or 0)
  end
end
local out = {#members == limit and member_id(members[#members]) or ''}
for _, r in ipairs(order) do
  out[#out + 1] = r
  out[#out + 1] = counts[r]
  out[#out + 1] = sums[r]
end
return out
"""
"""Range checksums of up to ``limit`` ids after ``cursor`` (below ``hi``): ``[next cursor or '', range, count,
digest sum, …]``, from the sorted set's members alone (``id:digest:expires``). Sums of 32-bit digests stay
exact in Lua's doubles; Redis returns them as integers."""

CHECKSUM_IDS_PER_CALL = 20_000
"""Ids one checksum call covers: keeps each call (which blocks Redis) to tens of milliseconds."""


def _translate(exc: redis.RedisError, what: str) -> Exception:
    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)):
        return TransientError(f"redis {what} failed: {exc}", code=ErrorCode.REDIS_SYNC_FAILED,
                              hint="the sink pauses and resumes when Redis answers; check `aegis stack status redis`")
    if isinstance(exc, redis.OutOfMemoryError):  # in a pipeline its message no longer starts with "OOM"
        return TransientError(f"redis {what} refused: Redis is full ({exc})", code=ErrorCode.REDIS_SYNC_FAILED,
                              hint="the sink pauses until Redis takes writes again: raise its maxmemory "
                                   "(AEGIS_STACK_REDIS_MAXMEMORY for the local stack) or free memory")
    if isinstance(exc, redis.ResponseError) and str(exc).startswith(("OOM", "LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN")):
        return TransientError(f"redis {what} refused for now: {exc}", code=ErrorCode.REDIS_SYNC_FAILED)
    return TerminalError(f"redis {what} failed: {exc}", code=ErrorCode.REDIS_SYNC_FAILED,
                         hint="check the Redis server's configuration and the sink's REDIS_* settings")


class RedisCacheSink:
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
            raise _translate(exc, "set-up") from None

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False

    def upsert_batch(self, records: Sequence[SinkRecord]) -> None:
        if not records:
            return
        try:
            self._pipelined(self._upsert, [
                ([self.doc_key(r.policy_id), self.version_key(r.policy_id), self.ids_key],
                 [str(r.lsn), r.content_hash, r.document.model_dump_json(), self.ttl, r.policy_id, r.row_digest])
                for r in records])
        except redis.RedisError as exc:
            raise _translate(exc, f"upsert of {len(records)} record(s)") from None

    def remove_batch(self, removals: Sequence[Removal]) -> None:
        if not removals:
            return
        try:
            self._pipelined(self._remove, [
                ([self.doc_key(r.policy_id), self.version_key(r.policy_id), self.ids_key], [str(r.lsn), r.policy_id])
                for r in removals])
        except redis.RedisError as exc:
            raise _translate(exc, f"removal of {len(removals)} record(s)") from None

    def _pipelined(self, script: Script, calls: list[tuple[list[str], list]]) -> None:
        """Run ``script`` once per (keys, args) in one pipeline, by its SHA.

        redis-py's pipelined ``Script`` asks ``SCRIPT EXISTS`` first, a round trip per batch; here a
        script missing from the server (flushed by a restart) fails the pipeline with NOSCRIPT, and
        it is loaded and the whole pipeline run again (every script is LSN-guarded: a repeat is a no-op).
        """
        for attempt in (1, 2):
            pipe = self.client.pipeline(transaction=False)
            for keys, args in calls:
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            try:
                pipe.execute()
                return
            except redis.exceptions.NoScriptError:
                if attempt == 2:
                    raise
                script.sha = self.client.script_load(script.script)

    def read_back(self, after_id: int, limit: int) -> list[StoredVersion]:
        """Cached policies with id > ``after_id`` by id; ids whose document expired are skipped."""
        try:
            flat = self._read_back(keys=[self.ids_key], args=[after_id, limit, self.prefix])
        except redis.RedisError as exc:
            raise _translate(exc, "read-back") from None
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
                raise _translate(exc, "range checksums") from None
            cursor = flat[0].decode()
            for i in range(1, len(flat), 3):
                checksums.setdefault(int(flat[i]), RangeChecksum()).merge(
                    RangeChecksum(count=int(flat[i + 1]), digest=int(flat[i + 2])))
        return checksums

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
            raise _translate(exc, "namespace drop") from None

    def get_document(self, policy_id: int) -> str | None:
        """The cached JSON of one policy (what cache readers get), or None."""
        try:
            raw = self.client.get(self.doc_key(policy_id))
        except redis.RedisError as exc:
            raise _translate(exc, "read") from None
        return raw.decode() if raw is not None else None

    def close(self) -> None:
        self.client.close()


def redis_client(settings: Settings) -> redis.Redis:
    """The cache's client: REDIS_HOST/PORT/DB, the ACL user and password, TLS (``RedisSettings.client_kwargs``)."""
    return redis.Redis(**settings.redis.client_kwargs(), socket_timeout=5, socket_connect_timeout=2)


def build_redis_sink(settings: Settings) -> RedisCacheSink:
    return RedisCacheSink(redis_client(settings), key_prefix=settings.sinks.redis_key_prefix,
                          ttl_seconds=settings.sinks.redis_ttl_seconds)
