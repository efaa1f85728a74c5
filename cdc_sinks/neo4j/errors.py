"""Neo4j driver exceptions translated into ``aegis.errors`` at the sink's boundary.

=====================================================  =================  ======================
Driver exception                                       Aegis              Runtime reaction
=====================================================  =================  ======================
``ServiceUnavailable``, ``SessionExpired``,            ``TransientError`` retry, then pause
``IncompleteCommit`` (writes are idempotent),
``TransientError`` (deadlock, database restarting),
any error the server marks retryable, timeouts,
``OSError``
``ConstraintError``, ``CypherTypeError``,              ``DataError``      split the batch,
``CypherSyntaxError``, other ``Statement`` errors,                        dead-letter the record
values the driver cannot send
``AuthError`` (wrong ``NEO4J_PASSWORD``),              ``TerminalError``  stop, a person acts
``Forbidden``, database not found, configuration,
``DatabaseError`` (the server failed internally)
=====================================================  =================  ======================
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import neo4j.exceptions as neo

from aegis.errors import AegisError, DataError, ErrorCode, TerminalError, TransientError

CODE = ErrorCode.NEO4J_SYNC_FAILED


def translate(exc: BaseException, what: str) -> AegisError:
    """The ``AegisError`` for a failure of ``what`` (e.g. "upserting 500 policies")."""
    if isinstance(exc, AegisError):
        return exc
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, (neo.ServiceUnavailable, neo.SessionExpired, neo.TransientError, OSError)):
        return TransientError(f"neo4j unreachable or busy while {what}: {detail}", code=CODE,
                              hint="the sink retries and pauses until Neo4j answers; check `aegis stack status neo4j`")
    if isinstance(exc, neo.AuthError):
        return TerminalError(f"neo4j refused the credentials while {what}: {detail}", code=CODE,
                             hint="check NEO4J_USER / NEO4J_PASSWORD (the local stack sets the password at "
                                  "first start only)")
    if isinstance(exc, neo.Neo4jError):
        code = exc.code or ""
        if exc.is_retryable() or ".Transaction.TransactionTimedOut" in code:
            return TransientError(f"neo4j asked to retry while {what}: {detail}", code=CODE,
                                  hint="the sink retries; if it persists, look at the Neo4j log")
        if isinstance(exc, (neo.ConstraintError, neo.CypherTypeError, neo.CypherSyntaxError)) \
                or code.startswith("Neo.ClientError.Statement."):
            return DataError(f"neo4j rejected a record while {what}: {detail}", code=CODE,
                             hint="the record is dead-lettered; inspect it with `aegis dlq list`")
        return TerminalError(f"neo4j failed while {what}: {detail}", code=CODE,
                             hint="see the Neo4j log; fix the cause and restart the sink")
    if isinstance(exc, (TypeError, ValueError)):
        return DataError(f"a record could not be sent to neo4j while {what}: {detail}", code=CODE,
                         hint="the record is dead-lettered; inspect it with `aegis dlq list`")
    if isinstance(exc, neo.DriverError):
        return TerminalError(f"the neo4j driver failed while {what}: {detail}", code=CODE,
                             hint="check NEO4J_URI and the driver settings")
    return TerminalError(f"unexpected failure while {what}: {detail}", code=CODE)


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Run the block, re-raising any driver failure as the matching ``AegisError``."""
    try:
        yield
    except AegisError:
        raise
    except (neo.Neo4jError, neo.DriverError, OSError, TypeError, ValueError) as exc:
        raise translate(exc, what) from exc
