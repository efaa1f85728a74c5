"""The warm-up's pure parts: which services are Kafka brokers, and how a result reads."""

from aegis.settings import load_settings
from console.ops.warmup import KAFKA, WarmUpResult, broker_services


def test_the_brokers_are_kafka_and_the_cluster_profiles_numbered_nodes_not_connect(monkeypatch):
    monkeypatch.setenv("AEGIS_STACK_KAFKA_BROKERS", "3")
    settings = load_settings()
    services = ["postgres", "kafka", "kafka-2", "kafka-3", "kafka-connect", "opensearch", "neo4j"]
    assert broker_services(settings, services) == ["kafka", "kafka-2", "kafka-3"]
    assert broker_services(settings, ["kafka-connect", "apicurio"]) == []


def test_a_result_says_what_carried_the_warm_up_and_what_was_left_over():
    kafka = WarmUpResult(KAFKA, "kafka", "warmup_1", batches=3, changes=60, reads=60, seconds=2.0, dropped=True)
    assert kafka.line() == "kafka: warmed up in 2s (3 batches, 60 changes, 60 reads through a producer and a consumer group)"
    search = WarmUpResult("search", "opensearch", "warmup_2", error="TransientError: down")
    assert "through the search sink" in search.line() and "stopped early: TransientError: down" in search.line()
    assert "'warmup_2' is left over" in search.line()
