"""The suite's own corner of the stack: a database, a change stream, consumer groups and target names.

Nothing another suite leaves behind counts as drift here: the reconciler's active view is the
database ``aegis_faults`` (rows of this run only), streamed by a connector of its own (slot,
publication, topics — dead-letter topic included — named after ``faults``), into target corners
named after the run's namespace (search alias, Redis key prefix, Neo4j labels, Milvus alias).
"""

from __future__ import annotations

import os

from aegis.settings import Settings
from testkit.namespaces import run_env
from testkit.streams import isolated_env, isolated_settings
from testkit.targets import TARGETS

SUITE_DATABASE = "aegis_faults"
STREAM_TAG = "faults"
DEFAULT_EMBEDDER = "onnx-int8"  # torch fp32 cannot keep up with 20 changes/s on 2 shared cores (bench/RESULTS.md)

# Which local-stack server holds each target.
TARGET_SERVERS = {"search": "opensearch", "redis": "redis", "neo4j": "neo4j", "milvus": "milvus"}


def suite_env(base: Settings, namespace: str) -> dict[str, str]:
    """Environment of the suite and of every process it starts (sinks read it as settings)."""
    stream = isolated_settings(base, STREAM_TAG, change_format="json", database=SUITE_DATABASE)
    return {**isolated_env(stream), **run_env(namespace, TARGETS, prefix="faults"),
            "EMBEDDING_BACKEND": os.environ.get("AEGIS_FAULTS_EMBEDDER", DEFAULT_EMBEDDER),
            "SINKS_PROBE_INTERVAL_SECONDS": "1",
            "RECONCILE_WORKERS": "thread"}  # a dry run every second: no process per target each time
