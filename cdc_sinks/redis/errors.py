"""Redis errors translated into the project's error taxonomy (``aegis.errors``)."""

from __future__ import annotations

import redis

from aegis.errors import ErrorCode, TerminalError, TransientError

_BUSY_FOR_NOW = ("OOM", "LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN")  # Redis answers that pass by themselves


def translate(exc: redis.RedisError, what: str) -> Exception:
    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)):
        return TransientError(f"redis {what} failed: {exc}", code=ErrorCode.REDIS_SYNC_FAILED,
                              hint="the sink pauses and resumes when Redis answers; check `aegis stack status redis`")
    if isinstance(exc, redis.OutOfMemoryError):  # in a pipeline its message no longer starts with "OOM"
        return TransientError(f"redis {what} refused: Redis is full ({exc})", code=ErrorCode.REDIS_SYNC_FAILED,
                              hint="the sink pauses until Redis takes writes again: raise its maxmemory "
                                   "(AEGIS_STACK_REDIS_MAXMEMORY for the local stack) or free memory")
    if isinstance(exc, redis.ResponseError) and str(exc).startswith(_BUSY_FOR_NOW):
        return TransientError(f"redis {what} refused for now: {exc}", code=ErrorCode.REDIS_SYNC_FAILED)
    return TerminalError(f"redis {what} failed: {exc}", code=ErrorCode.REDIS_SYNC_FAILED,
                         hint="check the Redis server's configuration and the sink's REDIS_* settings")
