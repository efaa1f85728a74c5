"""What `aegis connectors apply` says about change topics with fewer partitions than configured."""

from __future__ import annotations

from aegis.settings import load_settings
from connectors.topics import TopicReport, partitioned_topics
from console.cli.run import _ranges


def test_a_short_topic_is_named_with_its_count_and_the_safe_way_to_grow_it():
    warnings = TopicReport(short={"aegis.public.policies": 1}).warnings(6)
    assert len(warnings) == 1
    assert "aegis.public.policies has 1 partition(s)" in warnings[0] and "is 6" in warnings[0]
    assert "aegis connectors repartition" in warnings[0]
    assert TopicReport().warnings(6) == []


def test_the_change_topic_is_compacted_and_the_dlq_is_not():
    settings = load_settings(env_file=None)
    topics = partitioned_topics(settings)
    assert topics[settings.sinks.topic(settings.kafka)]["cleanup.policy"] == "compact"
    assert "cleanup.policy" not in topics[settings.kafka.topic_dlq]  # keys repeat there: every letter is kept


def test_partitions_held_read_as_ranges():
    assert _ranges([5, 0, 1, 2]) == "[0-2,5]" and _ranges([3]) == "[3]" and _ranges([]) == ""
