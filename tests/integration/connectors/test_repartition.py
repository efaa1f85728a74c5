"""`aegis connectors repartition`: more partitions for the change topic and the DLQ, no policy's order broken.

Against the real servers, on an isolated stream created with two partitions and a Redis sink
process consuming it: while changes keep being committed, the topics go to four partitions; the
connector runs again afterwards, and Redis (read with its own client) ends exactly PostgreSQL's
active view at each policy's newest LSN. With the sink stopped and changes unapplied, it waits,
gives up after its timeout, changes nothing and resumes the connector.
"""

from __future__ import annotations

import secrets
import threading
import time

import pytest

from aegis.db import connect
from aegis.errors import TerminalError
from aegis.settings import Settings
from connectors.manage import connector_status, repartition
from connectors.topics import partition_counts
from testkit.load import Generator, run_load
from testkit.streams import isolated_env, isolated_settings, isolated_stream
from testkit.targets import RedisReader, SinkProcess, wait_equal_to_postgres

pytestmark = pytest.mark.integration

MIX = {"insert": 0.4, "update": 0.4, "deactivate": 0.05, "reactivate": 0.05, "delete": 0.1}


@pytest.mark.timeout(600)
def test_partitions_are_added_under_load_after_every_group_applied_everything(stack: Settings, tmp_path):
    tag = secrets.token_hex(3)
    settings = isolated_settings(stack, f"rep{tag}")
    settings = settings.model_copy(update={
        "kafka": settings.kafka.model_copy(update={"change_topic_partitions": 2}),
        "sinks": settings.sinks.model_copy(update={"group_id_prefix": f"rep-{tag}-",
                                                   "redis_key_prefix": f"rep-{tag}:policy:"})})
    env = {**isolated_env(settings), "SINKS_GROUP_ID_PREFIX": settings.sinks.group_id_prefix,
           "SINKS_REDIS_KEY_PREFIX": settings.sinks.redis_key_prefix}
    source, reader, lines = f"repartition-{tag}", RedisReader(settings), []
    sink: SinkProcess | None = None
    load: threading.Thread | None = None
    try:
        with isolated_stream(settings):
            assert set(partition_counts(settings).values()) == {2}
            try:
                sink = SinkProcess("redis", env, tmp_path / "sink.log", metrics_port=0)
                generator = Generator(source, [], {}, MIX, rest=3.0)
                result: dict = {}
                load = threading.Thread(target=lambda: result.update(done=run_load(settings, generator, [], rate=30,
                                                                                   seconds=20, writers=1)))
                load.start()
                time.sleep(5)
                changed = repartition(settings, 4, lines.append, timeout=120)
                assert changed == {settings.sinks.topic(settings.kafka): 2, settings.kafka.topic_dlq: 2}, lines
                assert set(partition_counts(settings).values()) == {4}
                assert connector_status(settings).state == "RUNNING", lines
                assert any("sink group(s) at the end" in line for line in lines), lines
                load.join(120)
                assert "done" in result, "the load did not finish"

                active = wait_equal_to_postgres(settings, reader, source,
                                                context=lambda: sink.log.read_text()[-3000:])
                assert active > 50

                sink.stop(60)
                with connect(settings.postgres, role="owner", autocommit=True) as conn:
                    conn.execute("UPDATE policies SET title = title || ' (변경)' WHERE source_system = %s", (source,))
                lines.clear()
                with pytest.raises(TerminalError, match="draining the sink groups"):
                    repartition(settings, 6, lines.append, timeout=5)
                assert set(partition_counts(settings).values()) == {4}, "a failed repartitioning changed something"
                assert connector_status(settings).state == "RUNNING", lines
                assert any(line.startswith("  behind:") for line in lines), lines
            finally:
                if sink is not None and sink.alive():
                    sink.stop(60)
    finally:
        if load is not None:
            load.join(120)  # its writes end before the clean-up, else a failed test leaves rows behind
        keys = reader.sink.client.keys(f"rep-{tag}:*")
        if keys:
            reader.sink.client.delete(*keys)
        with connect(settings.postgres, role="owner", autocommit=True) as conn:
            conn.execute("DELETE FROM policies WHERE source_system = %s", (source,))
