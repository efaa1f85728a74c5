"""How the Redis sink classifies the server's refusals (no server needed)."""

from __future__ import annotations

import redis

from aegis.errors import TerminalError, TransientError
from cdc_sinks.redis.errors import translate


def test_a_full_redis_in_a_pipeline_is_transient_so_the_sink_pauses():
    # redis-py rewrites a pipeline error's message: it no longer starts with "OOM".
    full = redis.OutOfMemoryError("Command # 335 (EVALSHA …) of pipeline caused error: "
                                  "command not allowed when used memory > 'maxmemory'.")
    translated = translate(full, "upsert")
    assert isinstance(translated, TransientError) and "maxmemory" in translated.hint.lower()


def test_connection_loss_is_transient_and_a_wrong_command_terminal():
    assert isinstance(translate(redis.ConnectionError("refused"), "upsert"), TransientError)
    assert isinstance(translate(redis.ResponseError("ERR unknown command"), "upsert"), TerminalError)
