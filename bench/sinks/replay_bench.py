"""CPU per change event of one sink's whole runtime, replaying real messages into its real target.

    .venv/bin/python -m bench.sinks.replay_bench redis --messages 15000

Finds, in each partition of the change topic, the newest message written by an ``e2e_bench`` load
(``--source``: a prefix of the rows' ``source_system``; the load's clean-up deletes and whatever
came later, e.g. test runs, are left out), puts a fresh consumer group ``--messages`` messages
before it (spread over the partitions; ``--skip`` moves the window further back), then runs
``SinkRuntime`` for that sink in this process, into a fresh namespace of its target, until it has
consumed ``--messages``. Look-ahead is off and the micro-batch is ``--batch`` (default 100: what the
sinks take at ~1,000 changes/s), so every message is decoded, planned and written as in steady
state, not coalesced as in a backlog. The window stays on the same load however the topic grows.

It prints the process's CPU per message (all threads: the consumer's librdkafka threads, the
runtime, the driver) and the target server's (its process group, ``testkit.cpu``). The same
messages replayed by two code versions compare them without the writers, Debezium or the other
sinks in the loop; run the versions alternately, since CPU time on a shared machine moves with
its neighbours. ``--in-memory`` writes into an in-memory sink instead: what the runtime alone costs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import threading
import time

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from testkit.cpu import all_stats, server_cpu, stack_groups
from testkit.namespaces import run_env
from testkit.targets import SERVER_OF


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sink", choices=sorted(SERVER_OF))
    parser.add_argument("--messages", type=int, default=15_000, help="messages to replay")
    parser.add_argument("--source", default="bench-e2e",
                        help="source_system prefix of the load to replay (its newest message ends the window)")
    parser.add_argument("--skip", type=int, default=0, help="messages before that end to leave out as well")
    parser.add_argument("--batch", type=int, default=100, help="SINKS_BATCH_SIZE of the replay")
    parser.add_argument("--in-memory", action="store_true",
                        help="write into an in-memory sink instead: what the runtime alone costs (consumer, "
                             "decoding, planning, commits)")
    args = parser.parse_args(argv)

    ns = secrets.token_hex(4)
    os.environ.update(run_env(ns, [args.sink], prefix="replay"))
    os.environ.update(SINKS_LOOKAHEAD_MIN_LAG="0", SINKS_BATCH_SIZE=str(args.batch))
    logging.disable(logging.WARNING)  # one log line per batch would be measured with the rest
    from aegis.settings import load_settings
    from cdc_sinks.registry import build_sink
    from cdc_sinks.runtime import SinkRuntime
    from cdc_sinks.service import relax_garbage_collector

    settings = load_settings()
    group = f"{settings.sinks.group_id_prefix}{args.sink}"
    _start_group(settings, group, args.messages, args.skip, args.source)
    sink = build_sink(args.sink, settings)
    if args.in_memory:
        from testkit.doubles import MemorySink
        sink.close()
        sink = MemorySink()
        sink.name = args.sink
    runtime = SinkRuntime(sink, settings)
    relax_garbage_collector()  # as ``aegis sinks run`` does
    server_pid = stack_groups(settings.stack.state_path).get(SERVER_OF[args.sink])

    def stop_when_done() -> None:
        while runtime.stats.messages < args.messages and not runtime.stopping:
            time.sleep(0.02)
        runtime.stop()

    def server_seconds() -> float:
        return server_cpu(all_stats(), server_pid) if server_pid else 0.0

    threading.Thread(target=stop_when_done, daemon=True).start()
    server_before, cpu_before, wall_before = server_seconds(), time.process_time(), time.monotonic()
    try:
        runtime.run()
        cpu, wall = time.process_time() - cpu_before, time.monotonic() - wall_before
        server = server_seconds() - server_before
    finally:
        sink.drop_namespace()
        sink.close()
        AdminClient(settings.kafka.client_config()).delete_consumer_groups([group])
    consumed = max(runtime.stats.messages, 1)
    print(json.dumps({"sink": args.sink, "messages": runtime.stats.messages, "batches": runtime.stats.batches,
                      "sink_us_per_message": round(cpu / consumed * 1e6, 1),
                      "server_us_per_message": round(server / consumed * 1e6, 1), "wall_s": round(wall, 1)}))


def _start_group(settings, group: str, messages: int, skip: int, source: str) -> None:
    """Commit ``group``'s offsets ``skip + messages`` before each partition's newest ``source`` message."""
    topic = settings.sinks.topic(settings.kafka)
    consumer = Consumer({**settings.kafka.client_config(), "group.id": group, "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        share, skipped = messages // len(partitions), skip // len(partitions)
        offsets = []
        for partition in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            end = _newest_from(consumer, TopicPartition(topic, partition), low, high, source)
            offsets.append(TopicPartition(topic, partition, max(low, end - skipped - share)))
        consumer.commit(offsets=offsets, asynchronous=False)
    finally:
        consumer.close()


def _newest_from(consumer: Consumer, partition: TopicPartition, low: int, high: int, source: str,
                 step: int = 20_000) -> int:
    """One past the newest offset in ``partition`` whose row's ``source_system`` starts with ``source``."""
    marker = f'"source_system":"{source}'.encode()
    window_end = high
    while window_end > low:
        start = max(low, window_end - step)
        consumer.assign([TopicPartition(partition.topic, partition.partition, start)])
        newest, position = None, start
        while position < window_end:
            batch = consumer.consume(1000, timeout=5)
            if not batch:
                break
            for message in batch:
                if message.error():
                    continue
                position = message.offset() + 1
                if message.offset() < window_end and message.value() and marker in message.value():
                    newest = message.offset()
        if newest is not None:
            return newest + 1
        window_end = start
    raise SystemExit(f"no message of source_system {source}* in partition {partition.partition}: "
                     "run a load first (bench/e2e/e2e_bench.py)")


if __name__ == "__main__":
    main()
