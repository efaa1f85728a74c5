"""One exception root for the whole system.

Every error a person or a process acts on is an ``AegisError`` carrying an error code
(seed §8.1: DP_1xxx collection, DP_2xxx validation, DP_3xxx sync, DP_4xxx processing,
plus DP_5xxx for the local stack and configuration), a message saying what failed and a
hint saying what to do next. Only codes something raises are defined: the seed's DP_2002 (quality
score too low) and DP_2003 (duplicate) are status decisions here, made by the reconciler and kept
in the audit log, not errors; its DP_4001 (hot-path timeout) would need a per-record deadline on
the collect-and-store path, which nothing enforces.

The three branches tell callers how to react:

* ``TransientError`` — retry with backoff (timeouts, connection refused, 5xx, 429);
* ``TerminalError``  — stop: retrying cannot help (bad config, missing binary, auth);
* ``DataError``      — skip this record (dead-letter it), carry on with the rest.

Driver exceptions are translated into these at the boundary where they are raised.
"""

from __future__ import annotations

from enum import Enum


class ErrorCode(str, Enum):
    # Collection (DP_1xxx)
    DATA_SOURCE_UNAVAILABLE = "DP_1001"
    API_RATE_LIMIT_EXCEEDED = "DP_1002"
    SCRAPING_BLOCKED = "DP_1003"
    INVALID_DATA_FORMAT = "DP_1004"
    # Validation (DP_2xxx)
    VALIDATION_FAILED = "DP_2001"
    RECORD_TOO_LARGE = "DP_2004"  # ours: a record larger than the change stream carries (aegis.models.limits)
    # Sync (DP_3xxx)
    MILVUS_SYNC_FAILED = "DP_3001"
    NEO4J_SYNC_FAILED = "DP_3002"
    ELASTICSEARCH_SYNC_FAILED = "DP_3003"
    CONSISTENCY_CHECK_FAILED = "DP_3004"
    REDIS_SYNC_FAILED = "DP_3005"
    CHANGE_EVENT_UNDECODABLE = "DP_3006"
    CONNECTOR_FAILED = "DP_3007"
    SCHEMA_REGISTRY_UNAVAILABLE = "DP_3008"
    CONSUMER_STALLED = "DP_3009"
    REPAIR_NOT_VERIFIED = "DP_3010"
    # Processing (DP_4xxx)
    COLD_PATH_FAILED = "DP_4002"
    BATCH_PROCESSING_ERROR = "DP_4003"
    # Local stack, configuration and database (DP_5xxx; not in the seed, ours)
    CONFIG_INVALID = "DP_5001"
    STACK_SERVICE_FAILED = "DP_5002"
    STACK_DEPENDENCY_MISSING = "DP_5003"
    DATABASE_UNAVAILABLE = "DP_5004"
    MIGRATION_FAILED = "DP_5005"


class AegisError(Exception):
    """Root of every error Aegis Sync raises on purpose."""

    default_code: ErrorCode = ErrorCode.BATCH_PROCESSING_ERROR

    def __init__(self, message: str, *, code: ErrorCode | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.hint = hint

    def __str__(self) -> str:
        text = f"[{self.code.value}] {self.message}"
        if self.hint:
            text += f"\n  -> {self.hint}"
        return text

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code.value, "message": self.message, "hint": self.hint,
                "kind": type(self).__name__}


class TransientError(AegisError):
    """Worth retrying: the same call may succeed later."""

    default_code = ErrorCode.DATA_SOURCE_UNAVAILABLE


class TerminalError(AegisError):
    """Retrying cannot help; a person must act (config, credentials, install)."""

    default_code = ErrorCode.BATCH_PROCESSING_ERROR


class DataError(AegisError):
    """This one record can never be applied; isolate it and continue."""

    default_code = ErrorCode.VALIDATION_FAILED


class ConfigError(TerminalError):
    default_code = ErrorCode.CONFIG_INVALID


class StackError(TerminalError):
    """A local-stack service could not be installed, started or stopped."""

    default_code = ErrorCode.STACK_SERVICE_FAILED
