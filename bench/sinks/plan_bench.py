"""CPU per change event of the sinks' own Python work, on real messages from the change topic.

    .venv/bin/python -m bench.sinks.plan_bench --messages 5000

Reads the newest ``--messages`` inserts and updates of the policies change topic (the running
stack's; run a load first, e.g. ``e2e_bench``; deletes and tombstones are left out, since a
benchmark's clean-up deletes its whole working set last), then times on one core, with no server
in the loop:

* ``plan``: ``plan_batch`` in micro-batches of ``SINKS_BATCH_SIZE`` — decode, coalesce, active-view
  rule, ``PolicyDocument`` per upsert (what every sink's runtime does per message);
* per sink, what it builds from the plan's records before its driver sends them: the search bulk
  body (``ndjson``), Redis' document JSON and script arguments, Neo4j's ``$rows`` parameters.

Drivers, networks and servers are left out on purpose: this isolates what our code costs, which
the end-to-end benchmark's per-process CPU meter cannot split from the drivers'. Times are
``time.process_time`` per message (best of ``--repeat``), so a busy machine changes them little.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from aegis.changestream.decoding import build_decoder
from aegis.settings import Settings, load_settings
from cdc_sinks.base import SinkRecord
from cdc_sinks.batching import BatchPlan, ConsumedMessage, plan_batch
from cdc_sinks.neo4j.model import GraphPolicy
from cdc_sinks.search.engine import BulkLine, ndjson
from cdc_sinks.service import relax_garbage_collector
from testkit.conformance import ChangeTopic

_DELETE = b'"op":"d"'


def read_newest(settings: Settings, count: int) -> list[ConsumedMessage]:
    """The newest ``count`` inserts and updates of the change topic, spread over its partitions."""
    topic = ChangeTopic(settings)
    ends = topic.end_offsets()
    window = max(10 * count, 30_000) // max(len(ends), 1)
    messages = [ConsumedMessage.of(m) for m in topic.read({p: max(0, end - window) for p, end in ends.items()})
                if m.value() is not None and _DELETE not in m.value()[:200] + m.value()[-200:]]
    return messages[-count:]


def per_message(work: Callable[[], object], messages: int, repeat: int) -> float:
    """Best CPU µs per message of ``work`` over ``repeat`` runs."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best / messages * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000, help="newest messages of the change topic to use")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each measurement; the best counts")
    args = parser.parse_args(argv)
    settings = load_settings()
    relax_garbage_collector()  # as ``aegis sinks run`` does
    messages = read_newest(settings, args.messages)
    if not messages:
        raise SystemExit("the change topic is empty: run a load first (bench/e2e/e2e_bench.py)")
    decode = build_decoder(settings)
    size = settings.sinks.batch_size
    batches = [messages[i:i + size] for i in range(0, len(messages), size)]

    def plan_all() -> None:
        # each plan dropped before the next, as in the runtime: holding thousands of events alive made
        # the garbage collector's passes part of the figure (about twice the runtime's cost per message)
        for batch in batches:
            plan_batch(batch, decode)

    plans: list[BatchPlan] = [plan_batch(batch, decode) for batch in batches]
    records: list[SinkRecord] = [c.action for p in plans for c in p.upserts]  # type: ignore[misc]

    def search_body() -> None:
        operations: list[BulkLine] = []
        for r in records:
            doc = r.document.to_json(lsn=r.lsn, content_hash=r.content_hash, row_digest=r.row_digest, removed=False)
            operations += [{"index": {"_id": str(r.policy_id), "version": r.lsn}}, doc]
        ndjson(operations)

    def redis_arguments() -> None:
        for r in records:
            [r.policy_id, str(r.lsn), r.content_hash, r.document.to_json(), r.row_digest]

    def neo4j_rows() -> None:
        for r in records:
            GraphPolicy.from_record(r).to_parameters()

    values = [m.value for m in messages if m.value is not None]
    result = {
        "messages": len(messages), "upserts": len(records),
        "mean_value_bytes": round(sum(map(len, values)) / max(len(values), 1)),
        "with_before_image": sum(b'"before"' in v for v in values),
        "plan_us_per_message": round(per_message(plan_all, len(messages), args.repeat), 1),
        "search_body_us_per_message": round(per_message(search_body, len(messages), args.repeat), 1),
        "redis_arguments_us_per_message": round(per_message(redis_arguments, len(messages), args.repeat), 1),
        "neo4j_rows_us_per_message": round(per_message(neo4j_rows, len(messages), args.repeat), 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
