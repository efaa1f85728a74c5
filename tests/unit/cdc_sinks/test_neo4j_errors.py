"""Neo4j driver exceptions become the aegis error the runtime reacts to."""

import warnings

import neo4j.exceptions as neo
import pytest

from aegis.errors import DataError, ErrorCode, TerminalError, TransientError
from cdc_sinks.neo4j.errors import translate, translated


def _server_error(code: str, message: str = "failed") -> neo.Neo4jError:
    """The exception the driver raises for a server failure with this status code."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # hydrate is how the driver builds them
        return neo.Neo4jError.hydrate(code=code, message=message)


@pytest.mark.parametrize("exc", [
    neo.ServiceUnavailable("connection refused"),
    neo.SessionExpired("server went away"),
    neo.IncompleteCommit("commit outcome unknown"),
    ConnectionResetError("reset by peer"),
    _server_error("Neo.TransientError.Transaction.DeadlockDetected"),
    _server_error("Neo.TransientError.General.DatabaseUnavailable"),
    _server_error("Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration"),
])
def test_unreachable_or_busy_is_transient(exc):
    error = translate(exc, "upserting 3 policies")
    assert isinstance(error, TransientError)
    assert error.code is ErrorCode.NEO4J_SYNC_FAILED
    assert "upserting 3 policies" in error.message


@pytest.mark.parametrize("exc", [
    _server_error("Neo.ClientError.Schema.ConstraintValidationFailed"),
    _server_error("Neo.ClientError.Statement.TypeError"),
    _server_error("Neo.ClientError.Statement.SyntaxError"),
    _server_error("Neo.ClientError.Statement.ArgumentError"),
    TypeError("Values of type <class 'object'> are not supported"),
])
def test_a_refused_record_is_a_data_error(exc):
    assert isinstance(translate(exc, "upserting"), DataError)


@pytest.mark.parametrize("exc", [
    _server_error("Neo.ClientError.Security.Unauthorized"),
    _server_error("Neo.ClientError.Database.DatabaseNotFound"),
    _server_error("Neo.DatabaseError.General.UnknownError"),
    neo.ConfigurationError("bad uri"),
])
def test_what_a_person_must_fix_is_terminal(exc):
    error = translate(exc, "upserting")
    assert isinstance(error, TerminalError)
    assert error.hint


def test_wrong_password_names_the_setting():
    error = translate(_server_error("Neo.ClientError.Security.Unauthorized"), "pinging")
    assert "NEO4J_PASSWORD" in error.hint


def test_context_manager_chains_the_driver_exception():
    with pytest.raises(TransientError) as caught:
        with translated("counting"):
            raise neo.ServiceUnavailable("down")
    assert isinstance(caught.value.__cause__, neo.ServiceUnavailable)
