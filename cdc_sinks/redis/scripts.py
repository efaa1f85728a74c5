"""The Lua scripts of the Redis sink: every write and every reconciler read runs on the server, atomically.

They derive a record's keys from its id, so they suit a single Redis server (the local stack's, or a
primary with replicas), not Redis Cluster.
"""

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
local ids, prefix, ttl = KEYS[1], ARGV[1], tonumber(ARGV[2])
local expires = tonumber(redis.call('TIME')[1]) + ttl
local written = 0
for i = 3, #ARGV, 5 do
  local id, lsn, hash, doc, digest = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local version_key = prefix .. id .. ':v'
  local stored = redis.call('HGET', version_key, 'lsn')
  if not (stored and lsn_lt(lsn, stored)) then
    redis.call('SET', prefix .. id, doc, 'EX', ttl)
    local member = id .. ':' .. digest .. ':' .. expires
    redis.call('ZREMRANGEBYSCORE', ids, id, id)  -- every member of this id, whatever the hash says
    redis.call('ZADD', ids, id, member)
    redis.call('HSET', version_key, 'lsn', lsn, 'hash', hash, 'digest', digest, 'member', member, 'removed', '0')
    written = written + 1
  end
end
return written
"""
"""Upserts of many policies in one call, in order: ``KEYS = [ids]``, ``ARGV = [prefix, ttl, then per policy
id, lsn, hash, document JSON, digest]``. Each is skipped when the stored LSN is newer. Returns how many
were written."""

REMOVE_SCRIPT = _LSN_LT + """
local ids, prefix = KEYS[1], ARGV[1]
local now = redis.call('TIME')[1]
local written = 0
for i = 2, #ARGV, 2 do
  local id, lsn = ARGV[i], ARGV[i + 1]
  local version_key = prefix .. id .. ':v'
  local stored = redis.call('HGET', version_key, 'lsn')
  if not (stored and lsn_lt(lsn, stored)) then
    redis.call('DEL', prefix .. id)
    redis.call('ZREMRANGEBYSCORE', ids, id, id)
    redis.call('HSET', version_key, 'lsn', lsn, 'hash', '', 'digest', '', 'member', '', 'removed', '1', 'at', now)
    written = written + 1
  end
end
return written
"""
"""Removals of many policies in one call, in order: ``KEYS = [ids]``, ``ARGV = [prefix, then per policy id,
lsn]``. Each leaves its version hash as the removal marker; skipped when the stored LSN is newer."""

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
  if not id then id, digest, expires = member_id(member), '0', nil end  -- no digest kept: its range differs
  if (expires == nil or tonumber(expires) > now) and redis.call('EXISTS', prefix .. id) == 1 then
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
digest sum, …]``, from the sorted set's members (``id:digest:expires``), counting a member only while its
cached document exists (one ``EXISTS`` each: a deleted document is seen by the cheap pass). Sums of
32-bit digests stay exact in Lua's doubles; Redis returns them as integers."""

CHECKSUM_IDS_PER_CALL = 20_000
"""Ids one checksum call covers: keeps each call (which blocks Redis) to tens of milliseconds."""

PURGE_SCRIPT = """
local cutoff, purged = tonumber(ARGV[1]), 0
for _, key in ipairs(KEYS) do
  local v = redis.call('HMGET', key, 'removed', 'at')
  if v[1] == '1' and (tonumber(v[2]) or 0) < cutoff then
    redis.call('DEL', key)
    purged = purged + 1
  end
end
return purged
"""
"""Delete each given version hash that is still a removal marker written before ``ARGV[1]`` (epoch seconds)."""
