import pytest

from aegis.errors import TransientError
from aegis.retry import RetryPolicy
from cdc_sinks.applier import apply_plan, write_isolating
from cdc_sinks.base import Sink
from cdc_sinks.batching import plan_batch
from testkit.doubles import MemorySink
from testkit.envelopes import message

NO_WAIT = RetryPolicy(attempts=3, base_delay=0, max_delay=0)


def test_memory_sink_keeps_the_protocol():
    assert isinstance(MemorySink(), Sink)


def test_refused_record_is_isolated_and_its_neighbours_written():
    sink = MemorySink(refuse_ids={13})
    messages = [message(i, 100 + i) for i in range(1, 21)] + [message(30, 5, status="rejected")]
    result = apply_plan(sink, plan_batch(messages), NO_WAIT, sleep=lambda _: None)
    assert [r.message for r in result.rejected] == [messages[12]]
    assert result.rejected[0].error.code.value == "DP_3005"
    assert (result.upserted, result.removed) == (19, 1)
    assert sorted(sink.records) == [i for i in range(1, 21) if i != 13] + [30]
    assert sink.calls < 20  # halving, not one call per record


def test_a_batch_goes_in_one_write_with_its_removals():
    sink = MemorySink()
    messages = [message(1, 10), message(2, 11, op="d"), message(3, 12, status="rejected"), message(4, 13)]
    result = apply_plan(sink, plan_batch(messages), NO_WAIT)
    assert sink.calls == 1 and (result.upserted, result.removed, result.rejected) == (2, 2, [])
    assert {i: removed for i, (_, _, removed) in sink.records.items()} == {1: False, 2: True, 3: True, 4: False}


def test_a_refused_removal_is_isolated_and_counted_apart_from_the_upserts():
    sink = MemorySink(refuse_ids={3})
    messages = [message(1, 10), message(2, 11, op="d"), message(3, 12, status="rejected"), message(4, 13)]
    result = apply_plan(sink, plan_batch(messages), NO_WAIT)
    assert [r.message for r in result.rejected] == [messages[2]]
    assert (result.upserted, result.removed) == (2, 1) and sorted(sink.records) == [1, 2, 4]


def test_write_isolating_finds_every_refused_item():
    refused = {3, 4, 17}
    written: list[int] = []

    def write(chunk: list[int]) -> None:
        from aegis.errors import DataError
        if refused & set(chunk):
            raise DataError("no")
        written.extend(chunk)

    failures = write_isolating(write, list(range(20)))
    assert sorted(item for item, _ in failures) == sorted(refused)
    assert sorted(written) == [i for i in range(20) if i not in refused]


def test_transient_errors_are_retried_then_written():
    sink = MemorySink(transient_failures=2)
    result = apply_plan(sink, plan_batch([message(1, 10)]), NO_WAIT, sleep=lambda _: None)
    assert result.upserted == 1 and sink.records[1][0] == 10


def test_transient_errors_beyond_the_retries_propagate_and_nothing_is_lost():
    sink = MemorySink(transient_failures=5)
    with pytest.raises(TransientError):
        apply_plan(sink, plan_batch([message(1, 10)]), NO_WAIT, sleep=lambda _: None)
    assert sink.records == {}


def test_stale_events_do_not_overwrite_across_batches():
    sink = MemorySink()
    apply_plan(sink, plan_batch([message(1, 50, title="new")]), NO_WAIT)
    apply_plan(sink, plan_batch([message(1, 40, title="old")]), NO_WAIT)
    apply_plan(sink, plan_batch([message(2, 10, op="d")]), NO_WAIT)
    apply_plan(sink, plan_batch([message(2, 5, op="c")]), NO_WAIT)
    assert sink.records[1][0] == 50
    assert sink.read_back(0, 10) == [sink.read_back(0, 10)[0]] and sink.count() == 1


def test_a_sleep_that_raises_ends_the_retries_early():
    sink = MemorySink(transient_failures=5)

    def stopping(_seconds: float) -> None:
        raise TransientError("stop requested")

    with pytest.raises(TransientError, match="stop requested"):
        apply_plan(sink, plan_batch([message(1, 10)]), RetryPolicy(attempts=5, base_delay=1, max_delay=1), sleep=stopping)
    assert sink.calls == 1
