"""What `aegis stack settle` reports per Milvus collection: settled only when nothing is left."""

from console.ops.settle import SettleResult


def test_a_collection_with_nothing_left_is_settled():
    result = SettleResult("policies_v1", seconds=2.34)
    assert result.settled
    assert result.line() == "milvus: policies_v1 settled in 2.3s"


def test_what_is_left_is_named_and_counted():
    result = SettleResult("policies_v1", seconds=300.2, compacting=True, rows_to_index=28_887, segments_to_hand_over=1)
    assert not result.settled
    assert result.line() == ("milvus: policies_v1 not settled after 300s: a compaction and 28887 rows to index "
                             "and 1 segments to hand over left")


def test_an_error_is_not_settled_and_carries_the_message():
    result = SettleResult("policies_v1", error="milvus flush failed: timed out")
    assert not result.settled
    assert result.line() == "milvus: policies_v1 not settled: milvus flush failed: timed out"
