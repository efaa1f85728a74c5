"""Writing one batch plan to a sink: its upserts and removals in one ``write_batch``, bounded
retries, and isolation of records the target refuses.

* A ``TransientError`` is retried with the shared backoff helper; if it outlasts the retries it
  propagates, and the runtime pauses and probes the target.
* A ``DataError`` means some record in the chunk can never be written: the chunk is split in
  halves until the refused records stand alone; those become dead letters, the rest is written.
* Anything else propagates (a ``TerminalError`` stops the sink; nothing is committed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from aegis.errors import DataError
from aegis.retry import RetryPolicy, retry_call
from cdc_sinks.base import Removal, Sink, SinkRecord
from cdc_sinks.batching import BatchPlan, Change, Rejected

T = TypeVar("T")


@dataclass(frozen=True)
class ApplyResult:
    upserted: int
    removed: int
    rejected: list[Rejected]


def write_isolating(write: Callable[[list[T]], None], items: list[T]) -> list[tuple[T, DataError]]:
    """Write ``items``; when the target refuses the chunk with a ``DataError``, split it until the
    refused items are alone. Returns the refused items with their errors (everything else written)."""
    if not items:
        return []
    try:
        write(items)
        return []
    except DataError as exc:
        if len(items) == 1:
            return [(items[0], exc)]
    middle = len(items) // 2
    return write_isolating(write, items[:middle]) + write_isolating(write, items[middle:])


def apply_plan(sink: Sink, plan: BatchPlan, retry: RetryPolicy,
               sleep: Callable[[float], None] | None = None) -> ApplyResult:
    """Write the plan's upserts and removals together (``Sink.write_batch``); return what was written
    and what was refused."""
    extra = {} if sleep is None else {"sleep": sleep}

    def write(chunk: list[Change]) -> None:
        records = [c.action for c in chunk if isinstance(c.action, SinkRecord)]
        removals = [c.action for c in chunk if isinstance(c.action, Removal)]
        retry_call(lambda: sink.write_batch(records, removals), retry, what=f"{sink.name} write", **extra)

    refused = write_isolating(write, list(plan.changes.values()))
    refused_upserts = sum(1 for change, _ in refused if isinstance(change.action, SinkRecord))
    return ApplyResult(upserted=len(plan.upserts) - refused_upserts,
                       removed=len(plan.removals) - (len(refused) - refused_upserts),
                       rejected=[Rejected(change.message, error) for change, error in refused])
