"""A topic created a moment ago may be unknown to the node asked next (a cluster spreads new topics
to every node's metadata a moment later): the config read is retried, other errors are not."""

from __future__ import annotations

from concurrent.futures import Future

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import ConfigResource, ResourceType

from connectors import topics


def _request(answers: list):
    calls = []

    def request(resources):
        calls.append(resources)
        answer = answers.pop(0)
        future: Future = Future()
        if isinstance(answer, BaseException):
            future.set_exception(answer)
        else:
            future.set_result(answer)
        return {resources[0]: future}
    return request, calls


def test_an_unknown_topic_is_asked_again_until_known():
    unknown = KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART))
    request, calls = _request([unknown, unknown, {"max.message.bytes": "x"}])
    resource = ConfigResource(ResourceType.TOPIC, "fresh")
    assert topics._once_known(request, resource) == {"max.message.bytes": "x"}
    assert len(calls) == 3


def test_other_errors_are_not_retried():
    request, calls = _request([KafkaException(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED))])
    with pytest.raises(KafkaException):
        topics._once_known(request, ConfigResource(ResourceType.TOPIC, "denied"))
    assert len(calls) == 1
