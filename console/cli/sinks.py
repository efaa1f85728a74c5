"""`aegis sinks`: run a CDC sink (search, redis, ...) as a long-lived consumer."""

from __future__ import annotations

import os
import sys

import click

from aegis.settings import Settings

EXIT_STALLED = 75  # EX_TEMPFAIL: the sink's Kafka consumer stalled; start it again (the supervisor does)


@click.group()
def sinks() -> None:
    """CDC sinks: each keeps one target store in step with PostgreSQL's active policies.

    A sink consumes the policy change topic in its own consumer group, writes micro-batches to
    its target and commits offsets only after the write. See docs/sinks.md.
    """


@sinks.command("list")
def list_sinks() -> None:
    """List the sinks that `aegis sinks run` knows."""
    from cdc_sinks.registry import sink_names

    for name in sink_names():
        click.echo(name)


@sinks.command()
@click.argument("name")
@click.option("--metrics-port", type=int, default=None,
              help="Port of /metrics, /health and /health/ready (default METRICS_PORT; 0 = any free port).")
@click.pass_obj
def run(settings: Settings, name: str, metrics_port: int | None) -> None:
    """Run sink NAME until SIGTERM or Ctrl-C (see `aegis sinks list`).

    The process stays up while its target (or, in the Avro profile, the schema registry) is down
    (partitions paused, probed every SINKS_PROBE_INTERVAL_SECONDS); on stop it finishes the batch
    in hand and commits only what was written. Records a target can never take go to
    KAFKA_TOPIC_DLQ (`aegis dlq list`). A consumer out of its group for
    SINKS_REJOIN_TIMEOUT_SECONDS (stuck rejoining after a broker restart) makes the process exit
    with code 75, for its supervisor to start a fresh one.
    """
    from cdc_sinks.runtime import ConsumerStalled
    from cdc_sinks.service import run_sink

    try:
        runtime = run_sink(name, settings, metrics_port=metrics_port, announce=lambda line: click.echo(line, err=True))
    except ConsumerStalled as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.stderr.flush()
        # not sys.exit: the stuck consumer's destructor would close it, and that can block on the
        # coordinator it lost; nothing is lost, offsets are committed only after their writes
        os._exit(EXIT_STALLED)
    s = runtime.stats
    click.echo(f"sink {name} stopped: {s.batches} batches, {s.messages} messages, {s.applied} applied, "
               f"{s.dead_lettered} dead-lettered, {s.outages} outage(s)", err=True)


@sinks.command("prepare-model")
@click.option("--if-needed", is_flag=True,
              help="Return at once when there is nothing to build (torch: the weights ship with the package; "
                   "ONNX: already exported).")
@click.pass_obj
def prepare_model(settings: Settings, if_needed: bool) -> None:
    """Load the Milvus sink's embedding model once, so its first batch does not wait for it.

    For the ONNX backends this exports (and for onnx-int8 quantises) the model into
    EMBEDDING_ONNX_CACHE_DIR the first time, which takes a minute or two; `make install` runs it
    with --if-needed. Prints the model version, the vector dimension and how long it took.
    """
    import time

    from cdc_sinks.milvus.embedder import get_embedder
    from cdc_sinks.milvus.onnx_export import onnx_model_ready

    if if_needed and (settings.embedding.backend == "torch" or onnx_model_ready(settings.embedding)):
        click.echo(f"embedding model {settings.embedding.version}: ready (nothing to build)")
        return
    started = time.perf_counter()
    click.echo(f"preparing embedding model {settings.embedding.model} ({settings.embedding.backend}) ...", err=True)
    embedder = get_embedder(settings.embedding)
    vectors = embedder.embed(["청년 창업 지원사업 공고"])
    click.echo(f"embedding model {embedder.version}: dimension {len(vectors[0])}, "
               f"ready in {time.perf_counter() - started:.1f}s")


from console.cli.sinks_reembed import reembed  # noqa: E402  (the Milvus sink's model switch)

sinks.add_command(reembed)


@sinks.command("rebuild-search-index")
@click.pass_obj
def rebuild_search_index(settings: Settings) -> None:
    """Build the next version of the search index and swap the aliases to it atomically.

    Writes move to `<alias>-v<N+1>` first, the current index is copied in with its versions
    (newer documents win), then the read alias swaps in one request. Safe while the search sink
    runs. The old index is kept: delete it once satisfied.
    """
    from cdc_sinks.search.sink import build_search_sink

    sink = build_search_sink(settings)
    try:
        old = sink.current_index()
        click.echo(f"rebuilding {settings.search.index_alias}: {old} -> next version ...")
        new = sink.rebuild()
        click.echo(f"aliases {settings.search.index_alias} and {sink.write_alias} now point at {new}; "
                   f"{old} is kept (delete it when satisfied); {sink.count()} active documents")
    finally:
        sink.close()
