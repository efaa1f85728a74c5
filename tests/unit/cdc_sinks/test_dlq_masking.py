"""Dead letters carry no personal data: key, value and error message are masked before producing."""

from __future__ import annotations

from aegis.errors import DataError, ErrorCode
from cdc_sinks import dlq
from cdc_sinks.batching import ConsumedMessage, Rejected


class _Producer:
    def __init__(self):
        self.sent = []

    def produce(self, topic, key=None, value=None, headers=None, on_delivery=None):
        self.sent.append((topic, key, value, dict(headers)))

    def flush(self, timeout=None):
        return 0


def test_dead_letters_are_masked(monkeypatch):
    producer = _Producer()
    monkeypatch.setattr(dlq, "_producer", lambda kafka: producer)
    from aegis.settings import KafkaSettings

    writer = dlq.DeadLetterWriter(KafkaSettings(_env_file=None), "search")
    value = '{"after": {"content": "담당 010-1234-5678, hong@naver.com"}}'.encode()
    message = ConsumedMessage("aegis.public.policies", 0, 7, b'{"id": 3}', value)
    error = DataError("cannot index 900101-1234568", code=ErrorCode.ELASTICSEARCH_SYNC_FAILED)
    assert writer.send([Rejected(message, error)]) == 1
    _, key, sent, headers = producer.sent[0]
    assert key == b'{"id": 3}' and len(sent) == len(value)
    assert b"1234-5678" not in sent and b"hong@" not in sent and b"@naver.com" in sent
    assert b"1234568" not in headers[dlq.H_MESSAGE] and headers[dlq.H_OFFSET] == b"7"
