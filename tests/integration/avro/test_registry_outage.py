"""A schema-registry outage while a sink runs is a pause, not the end of the sink process.

An isolated Avro connector streams a handful of changes (the converter registers its schemas), then
the registry is stopped and a fresh `aegis sinks run redis` process starts: it has no schema cached,
so it cannot decode anything. More changes arrive during the outage. The sink must pause (health
says so), commit nothing, dead-letter nothing, and stay alive; about 20 s later the registry comes
back and every change reaches Redis.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from avro_helpers import wait_mirrored

from aegis.changestream.groups import group_lag, watermarks
from aegis.db import connect
from cdc_sinks.redis.sink import build_redis_sink
from devstack.manager import StackManager
from testkit.streams import change_topic, isolated_env, isolated_settings, isolated_stream
from testkit.targets import wait_until

pytestmark = pytest.mark.integration

OUTAGE_SECONDS = 20


def _insert(conn, tag: str, n: int) -> int:
    title = f"레지스트리 장애 {tag}-{n}"
    return conn.execute("INSERT INTO policies (source_system, source_id, title, content, issuing_organization,"
                        " content_hash, status) VALUES ('registry-outage', %s, %s, '내용', '기관', md5(%s) || md5(%s),"
                        " 'active') RETURNING id", (f"{tag}-{n}", title, title, title)).fetchone()[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ready(port: int) -> dict | None:
    """The sink's /health/ready document (None while it does not answer yet)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        return json.loads(e.read())
    except OSError:
        return None


def _end_offset(settings, topic: str) -> int:
    """Messages on ``topic``, every partition (0 when it does not exist: nothing was ever dead-lettered)."""
    return sum(high for _low, high in watermarks(settings.kafka, topic).values())


@pytest.mark.timeout(600)
def test_a_registry_outage_pauses_the_sink_process_which_then_loses_nothing(schema_registry, tmp_path):
    tag = secrets.token_hex(3)
    settings = isolated_settings(schema_registry, f"reg{tag}", change_format="avro")
    prefix, group_prefix = f"registry-outage-{tag}:", f"registry-outage-{tag}-"
    settings = settings.model_copy(update={"sinks": settings.sinks.model_copy(update={"redis_key_prefix": prefix})})
    group, topic = f"{group_prefix}redis", change_topic(settings)
    registry = StackManager(settings)
    sink = build_redis_sink(settings)  # reads back what the sink process wrote
    port = _free_port()
    env = {**os.environ, **isolated_env(settings), "SINKS_REDIS_KEY_PREFIX": prefix,
           "SINKS_GROUP_ID_PREFIX": group_prefix, "SINKS_PROBE_INTERVAL_SECONDS": "1"}
    log = tmp_path / "sink.log"
    process: subprocess.Popen | None = None
    try:
        with isolated_stream(settings), connect(settings.postgres, role="owner", autocommit=True) as conn:
            before = [_insert(conn, tag, n) for n in range(5)]  # the converter registers (and caches) its schemas
            conn.execute("UPDATE policies SET status = 'rejected' WHERE id = %s", (before[0],))
            wait_until(lambda: _end_offset(settings, topic) >= 6, 60, "the first changes on the topic")

            registry.down(["schema-registry"], progress=print)
            down_at = time.monotonic()
            with log.open("w") as out:
                process = subprocess.Popen([str(Path(sys.executable).parent / "aegis"), "sinks", "run", "redis",
                                            "--metrics-port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT)
            during = [_insert(conn, tag, 10 + n) for n in range(5)]  # changes keep coming during the outage
            conn.execute("UPDATE policies SET title = title || ' (변경)' WHERE id = %s", (before[1],))
            conn.execute("DELETE FROM policies WHERE id = %s", (before[2],))

            def paused() -> dict | None:
                assert process.poll() is None, f"the sink process ended:\n{log.read_text()[-3000:]}"
                health = _ready(port)
                return health if health and health["paused"] else None

            health = wait_until(paused, 60, "the sink to pause")
            assert "schema registry unreachable" in health["detail"] and not health["ready"], health
            time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
            assert process.poll() is None, log.read_text()[-3000:]  # alive through the outage
            assert all(lag.committed < 0 for lag in group_lag(settings.kafka, group, topic))  # nothing undecoded
            assert sink.client.keys(f"{prefix}*") == []  # and nothing written

            registry.up(["schema-registry"], progress=print)
            ids = before + during
            wait_mirrored(settings, sink, ids, timeout=120)  # all of them; the rejected and the deleted one absent
            wait_until(lambda: _ready(port)["ready"], 30, "the sink to report ready again")
            wait_until(lambda: all(lag.behind == 0 for lag in group_lag(settings.kafka, group, topic)), 30,
                  "the offsets to be committed to the end of every partition")
            assert process.poll() is None, log.read_text()[-3000:]
            assert _end_offset(settings, settings.kafka.topic_dlq) == 0, "a message was dead-lettered"

            process.send_signal(signal.SIGTERM)
            assert process.wait(60) == 0, log.read_text()[-3000:]
            output = log.read_text()
            assert "schema registry unreachable: partitions paused" in output
            assert "schema registry answers again: resuming" in output
            assert "0 dead-lettered" in output
    finally:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(30)
        registry.up(["schema-registry"], progress=print)  # for whatever runs next
        leftovers = sink.client.keys(f"{prefix}*")
        if leftovers:
            sink.client.delete(*leftovers)
        sink.close()
