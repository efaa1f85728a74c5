"""The warm-up's pure parts: which services are Kafka brokers, and how a result reads."""

from aegis.settings import load_settings
from console.ops.warmup import KAFKA, WarmUpResult, _delete_kafka_scratch, broker_services, warmed_services


def test_the_brokers_are_kafka_and_the_cluster_profiles_numbered_nodes_not_connect(monkeypatch):
    monkeypatch.setenv("AEGIS_STACK_KAFKA_BROKERS", "3")
    settings = load_settings()
    services = ["postgres", "kafka", "kafka-2", "kafka-3", "kafka-connect", "opensearch", "neo4j"]
    assert broker_services(settings, services) == ["kafka", "kafka-2", "kafka-3"]
    assert broker_services(settings, ["kafka-connect", "apicurio"]) == []


def test_the_warm_up_drives_the_sinks_targets_and_the_brokers_not_connect_or_the_registry(monkeypatch):
    monkeypatch.setenv("AEGIS_STACK_KAFKA_BROKERS", "3")
    services = ["opensearch", "schema-registry", "neo4j", "kafka-connect", "kafka", "kafka-2", "postgres"]
    assert warmed_services(load_settings(), services) == ["opensearch", "neo4j", "kafka", "kafka-2"]


def test_a_result_says_what_carried_the_warm_up_and_what_was_left_over():
    kafka = WarmUpResult(KAFKA, "kafka", "warmup_1", batches=3, changes=60, reads=60, seconds=2.0, dropped=True)
    assert kafka.line() == "kafka: warmed up in 2s (3 batches, 60 changes, 60 reads through a producer and a consumer group)"
    search = WarmUpResult("search", "opensearch", "warmup_2", error="TransientError: down")
    assert "through the search sink" in search.line() and "stopped early: TransientError: down" in search.line()
    assert "'warmup_2' is left over" in search.line()


class _Future:
    def __init__(self, outcome: BaseException | None):
        self.outcome = outcome

    def result(self, timeout: float) -> None:
        if self.outcome is not None:
            raise self.outcome


class _Admin:
    """The two deletions of an admin client, each answering with a prepared outcome."""

    def __init__(self, topic: BaseException | None, group: BaseException | None):
        self.outcomes = {"topic": topic, "group": group}
        self.asked: list[str] = []

    def delete_topics(self, topics):
        self.asked.append("topic")
        return {topics[0]: _Future(self.outcomes["topic"])}

    def delete_consumer_groups(self, groups):
        self.asked.append("group")
        return {groups[0]: _Future(self.outcomes["group"])}


def _kafka_error(code: str):
    from confluent_kafka import KafkaError, KafkaException

    return KafkaException(KafkaError(getattr(KafkaError, code)))


def test_a_scratch_topic_or_group_already_gone_counts_as_deleted():
    result = WarmUpResult(KAFKA, "kafka", "warmup_3")
    admin = _Admin(_kafka_error("UNKNOWN_TOPIC_OR_PART"), _kafka_error("GROUP_ID_NOT_FOUND"))
    assert _delete_kafka_scratch(admin, "warmup_3", result) is True
    assert result.error is None


def test_a_deletion_that_times_out_is_reported_with_its_reason_and_the_group_is_still_deleted():
    result = WarmUpResult(KAFKA, "kafka", "warmup_4")
    admin = _Admin(TimeoutError("no answer in 30 s"), None)
    assert _delete_kafka_scratch(admin, "warmup_4", result) is False
    assert result.error == "deleting the scratch topic: TimeoutError: no answer in 30 s"
    assert admin.asked == ["topic", "group"]
    result.dropped = False
    assert "'warmup_4' is left over" in result.line()
