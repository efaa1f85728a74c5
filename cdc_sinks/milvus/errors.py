"""pymilvus / gRPC exceptions translated into the project's error taxonomy (``aegis.errors``).

* unreachable, timed out, not ready, rate-limited, collection not loaded yet → ``TransientError``
  (the runtime retries, then pauses its partitions and probes ``ping``);
* a row Milvus rejects (invalid parameter on a write) → ``DataError`` (isolated, dead-lettered);
* anything else → ``TerminalError``.

All carry ``DP_3001`` (MILVUS_SYNC_FAILED).
"""

from __future__ import annotations

from aegis.errors import AegisError, DataError, ErrorCode, TerminalError, TransientError

_TRANSIENT_WORDS = ("unavailable", "not ready", "connect", "timeout", "timed out", "deadline", "rate limit",
                    "not loaded", "channel", "shard", "not healthy", "stopping", "retry", "no available",
                    "service not", "server is", "closed", "too many")
_INVALID_PARAMETER = 1100
_CONNECT_FAILED = 2
_DOES_NOT_FIT = "the record does not fit the collection schema"


def translate(exc: Exception, what: str, *, write: bool = False) -> AegisError:
    """The AegisError for a pymilvus / gRPC exception raised by ``what``."""
    import grpc
    from pymilvus.exceptions import (
        DataNotMatchException,
        DataTypeNotMatchException,
        MilvusException,
        MilvusUnavailableException,
        ParamError,
    )

    text = f"milvus {what} failed: {exc}"
    hint_down = "the sink pauses and resumes when Milvus answers; check `aegis stack status milvus`"
    if isinstance(exc, AegisError):
        return exc
    if isinstance(exc, grpc.RpcError):
        code = exc.code() if callable(getattr(exc, "code", None)) else None
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                    grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.CANCELLED, grpc.StatusCode.UNKNOWN):
            return TransientError(text, code=ErrorCode.MILVUS_SYNC_FAILED, hint=hint_down)
        return TerminalError(text, code=ErrorCode.MILVUS_SYNC_FAILED, hint="check MILVUS_* settings and the server log")
    if isinstance(exc, (ParamError, DataTypeNotMatchException, DataNotMatchException)):
        if write:
            return DataError(text, code=ErrorCode.MILVUS_SYNC_FAILED, hint=_DOES_NOT_FIT)
        return TerminalError(text, code=ErrorCode.MILVUS_SYNC_FAILED)
    if isinstance(exc, MilvusException):
        message = str(getattr(exc, "message", exc)).lower()
        if write and getattr(exc, "code", None) == _INVALID_PARAMETER:
            return DataError(text, code=ErrorCode.MILVUS_SYNC_FAILED, hint=_DOES_NOT_FIT)
        if (isinstance(exc, MilvusUnavailableException) or getattr(exc, "code", None) == _CONNECT_FAILED
                or any(word in message for word in _TRANSIENT_WORDS)):
            return TransientError(text, code=ErrorCode.MILVUS_SYNC_FAILED, hint=hint_down)
        return TerminalError(text, code=ErrorCode.MILVUS_SYNC_FAILED, hint="check MILVUS_* settings and the server log")
    if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
        return TransientError(text, code=ErrorCode.MILVUS_SYNC_FAILED, hint=hint_down)
    return TerminalError(text, code=ErrorCode.MILVUS_SYNC_FAILED)
