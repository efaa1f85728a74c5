"""Where each target's share of a pass runs: a process of its own (default) or a thread.

Reading a target back is mostly client-side CPU in its driver (decoding Redis replies, Bolt
records, JSON hits): in threads the targets take turns on one interpreter lock, in processes
they use every core. ``RECONCILE_WORKERS=thread`` keeps everything in one process (a sink builder
that cannot be pickled needs it), and so does a pass over a single target (a worker process would
only add its start-up). Progress lines from worker processes come back through a queue.
"""

from __future__ import annotations

import multiprocessing
import queue as queue_module
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass

from aegis.db import connect
from aegis.logging import configure_logging
from aegis.retry import RetryPolicy
from aegis.settings import ServiceSettings, Settings
from cdc_sinks.base import Sink
from reconciler.drift import ActiveView, DeepPlan, RangeChecksum
from reconciler.inflight import StreamState, dead_letter_ids, pending_changes, stream_state
from reconciler.report import TargetReport, TargetStatus
from reconciler.target_pass import TargetOutcome, TargetReconciler

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TargetJob:
    """Everything one target's check needs; picklable, so it can cross into a worker process."""

    name: str
    build_sink: Callable[[], Sink]
    settings: Settings
    dry_run: bool
    retry: RetryPolicy
    listed_per_kind: int
    deep: DeepPlan = DeepPlan()
    read_from_lsn: int = 0  # PostgreSQL's WAL position read before its checksums


def run_job(job: TargetJob, checksums: dict[int, RangeChecksum], progress: Progress) -> TargetOutcome:
    @contextmanager
    def open_view() -> Iterator[ActiveView]:
        with connect(job.settings.postgres, autocommit=True) as conn:
            yield ActiveView(conn)

    def stream_check(view: ActiveView, sink_name: str, read_from_lsn: int) -> StreamState:
        return stream_state(job.settings, view.conn, sink_name, read_from_lsn,
                            settle_seconds=job.settings.reconciler.settle_seconds)

    def marker_keep(view: ActiveView, sink_name: str) -> tuple[set[int] | None, str]:
        state = pending_changes(job.settings, view.conn, sink_name)
        if state.behind:
            return None, state.note
        dead = dead_letter_ids(job.settings)
        if dead is None:
            return None, f"the dead-letter topic {job.settings.kafka.topic_dlq} could not be read whole"
        return state.pending_ids | dead, ""

    return TargetReconciler(job.name, job.build_sink, open_view, job.settings.reconciler, dry_run=job.dry_run,
                            progress=progress, listed_per_kind=job.listed_per_kind, retry=job.retry, deep=job.deep,
                            stream_check=stream_check, marker_keep=marker_keep).run(checksums, job.read_from_lsn)


_progress_queue = None  # set in each worker process by _init_worker


def _init_worker(progress_queue, service: ServiceSettings) -> None:
    global _progress_queue
    _progress_queue = progress_queue
    configure_logging(service)


def _run_in_worker(job: TargetJob, checksums: dict[int, RangeChecksum]) -> TargetOutcome:
    if _progress_queue is None:
        raise RuntimeError("a reconcile worker process started without _init_worker")
    return run_job(job, checksums, _progress_queue.put)


def _crashed(job: TargetJob, exc: BaseException) -> TargetOutcome:
    return TargetOutcome(TargetReport(target=job.name, status=TargetStatus.FAILED,
                                      error=f"worker process failed: {type(exc).__name__}: {exc}"))


def run_jobs(jobs: list[TargetJob], checksums: dict[int, RangeChecksum], progress: Progress, *,
             mode: str = "process", service: ServiceSettings | None = None) -> list[TargetOutcome]:
    """Run every job in parallel; outcomes in the order of ``jobs``."""
    if not jobs:
        return []
    if mode == "thread" or len(jobs) == 1:  # one target: nothing to spread over cores, no process to start
        with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="reconcile") as pool:
            futures = [pool.submit(run_job, job, checksums, progress) for job in jobs]
            return [f.result() for f in futures]
    context = multiprocessing.get_context("spawn")  # no inherited connections, locks or threads
    progress_queue = context.Queue()
    with ProcessPoolExecutor(max_workers=len(jobs), mp_context=context, initializer=_init_worker,
                             initargs=(progress_queue, service or ServiceSettings())) as pool:
        futures = [pool.submit(_run_in_worker, job, checksums) for job in jobs]
        pending = set(futures)
        while pending:
            _drain(progress_queue, progress, timeout=0.2)
            _, pending = wait(pending, timeout=0)
        _drain(progress_queue, progress, timeout=0)
        outcomes = []
        for job, future in zip(jobs, futures, strict=True):
            try:
                outcomes.append(future.result())
            except Exception as exc:  # noqa: BLE001 - the worker died (killed, out of memory): that target failed
                outcomes.append(_crashed(job, exc))
        return outcomes


def _drain(progress_queue, progress: Progress, *, timeout: float) -> None:
    try:
        line = progress_queue.get(timeout=timeout) if timeout else progress_queue.get_nowait()
        progress(line)
        while True:
            progress(progress_queue.get_nowait())
    except queue_module.Empty:
        return
