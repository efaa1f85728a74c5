"""The PII corpus through the whole pipeline (bench/privacy/pipeline_check.py, docs/privacy.md):
nothing planted is found in any target, topic, dead letter or log; every look-alike is intact."""

from __future__ import annotations

import os

import pytest

from bench.privacy.pipeline_check import run

pytestmark = pytest.mark.integration


def test_nothing_planted_leaves_postgresql(stack, tmp_path):
    report = run(stack, int(os.environ.get("AEGIS_PII_CORPUS_POLICIES", "500")), log_dir=tmp_path / "logs",
                 env_file=os.environ.get("AEGIS_TEST_ENV_FILE"), timeout=900)
    print(report.model_dump_json(indent=2))
    assert report.policies >= 500 and report.planted_personal >= 5000
    assert not any(report.missing_in_target.values()), report.missing_in_target
    searched = report.stores_searched
    assert {"search", "redis", "neo4j", "milvus"} <= set(searched) and all(searched[s] > 0 for s in ("search", "redis", "neo4j", "milvus"))
    assert any(k.startswith("kafka:") for k in searched) and any(k.startswith("log:sink-") for k in searched)
    assert report.poison_dead_letters >= 4  # each sink dead-lettered the planted undecodable messages
    assert "kafka:" + stack.kafka.topic_dlq in searched and searched["cli:aegis dlq list/show"] > 0
    assert report.leaks == {}, {k: v[:5] for k, v in report.leaks.items()}
    assert not any(report.damaged_look_alikes.values()), report.damaged_look_alikes
