"""One reconcile pass, and the hourly schedule.

A pass, holding a PostgreSQL advisory lock so two never overlap (in one process or across hosts):

1. **drift** — PostgreSQL's range checksums once, then every target in parallel (one worker
   process — or thread — and one PostgreSQL connection each): detect (checksums, and a deep
   read of differing ranges and of this pass's deep slice), tell changes in flight from drift,
   repair, verify by reading again (``reconciler.target_pass``, ``reconciler.workers``);
2. **quality** — score and promote ``pending_validation`` policies, archive active policies
   whose application period ended, archive duplicates among the newly active ones. These are
   ordinary PostgreSQL updates: CDC carries them to the targets, and the next pass checks them;
3. **report** — the ``ConsistencyReport`` is stored and announced as ``data.sync_completed``.

Drift is checked before promotion so a pass does not report as "missing" the records it has
just promoted and CDC has not delivered yet. A dry run reads only: nothing is repaired,
promoted, stored or announced.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field

from aegis.db import connect, scalar
from aegis.errors import AegisError, ConfigError, ErrorCode, TerminalError, TransientError
from aegis.retry import RetryPolicy
from aegis.settings import Settings
from cdc_sinks.base import Sink
from cdc_sinks.registry import build_sink, sink_names
from reconciler.drift import ActiveView, DeepPlan
from reconciler.duplicates import archive_duplicates
from reconciler.promotion import archive_expired, promote_pending
from reconciler.report import LISTED_PER_TARGET, ConsistencyReport, store_report
from reconciler.target_pass import TargetOutcome
from reconciler.workers import TargetJob, run_jobs

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
SinkBuilder = Callable[[], Sink]

LOCK_KEY = 0x6165_6769_735F_7263  # "aegis_rc": the advisory lock every pass holds


class ReconcileBusy(TerminalError):
    """Another pass holds the reconciler's advisory lock."""

    default_code = ErrorCode.COLD_PATH_FAILED


class PassOptions(BaseModel):
    dry_run: bool = False
    targets: list[str] = Field(default_factory=list)  # empty: RECONCILE_TARGETS, else every registered sink
    as_of: datetime | None = None  # "now" for scoring (tests pin it)
    deep: bool = False  # read every range deep (as a reader sees it, field by field), not only this pass's slice


def new_run_id() -> str:
    return f"reconcile-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def registered_sinks(settings: Settings, names: list[str]) -> dict[str, SinkBuilder]:
    """Builders for ``names`` (default: every sink in ``cdc_sinks.registry``); unknown names are an error."""
    known = sink_names()
    chosen = names or known
    unknown = [n for n in chosen if n not in known]
    if unknown:
        raise ConfigError(f"unknown target(s): {', '.join(unknown)}",
                          hint=f"known targets: {', '.join(known)} (--target NAME or RECONCILE_TARGETS)")
    return {name: partial(build_sink, name, settings) for name in chosen}


class Reconciler:
    """Runs passes (see module doc). ``sinks`` overrides the registry (name → builder)."""

    def __init__(self, settings: Settings, *, sinks: dict[str, SinkBuilder] | None = None,
                 progress: Progress = lambda _: None):
        self.settings = settings
        self.sinks = sinks
        self.progress = progress
        self._say_lock = threading.Lock()

    def _say(self, line: str) -> None:
        with self._say_lock:
            self.progress(line)

    def _connect(self, *, autocommit: bool = True) -> psycopg.Connection:
        return connect(self.settings.postgres, autocommit=autocommit)

    def _targets(self, options: PassOptions) -> dict[str, SinkBuilder]:
        names = options.targets or self.settings.reconciler.target_names
        if self.sinks is None:
            return registered_sinks(self.settings, names)
        unknown = [n for n in names if n not in self.sinks]
        if unknown:
            raise ConfigError(f"unknown target(s): {', '.join(unknown)}", hint=f"known: {', '.join(self.sinks)}")
        return {n: self.sinks[n] for n in (names or list(self.sinks))}

    def run_pass(self, options: PassOptions | None = None) -> ConsistencyReport:
        """One pass; raises ``ReconcileBusy`` when another pass is running."""
        options = options or PassOptions()
        targets = self._targets(options)
        lock_conn = self._connect()
        try:
            if not scalar(lock_conn, "SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)):
                raise ReconcileBusy("another reconcile pass is running (its advisory lock is held)",
                                    hint="wait for it to finish; `aegis reconcile --schedule` skips a busy turn")
            report = ConsistencyReport(run_id=new_run_id(), dry_run=options.dry_run,
                                       started_at=datetime.now(UTC))
            try:
                return self._run_locked(report, targets, options)
            except BaseException:
                if not options.dry_run:
                    self._record_failure(report.run_id)
                raise
        finally:
            try:
                lock_conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
            except psycopg.Error:
                pass  # the session is gone, and its lock with it
            lock_conn.close()

    def _run_locked(self, report: ConsistencyReport, targets: dict[str, SinkBuilder],
                    options: PassOptions) -> ConsistencyReport:
        try:
            return self._steps(report, targets, options)
        except psycopg.OperationalError as exc:
            raise TransientError(f"PostgreSQL failed during the pass: {exc}".strip(),
                                 code=ErrorCode.DATABASE_UNAVAILABLE,
                                 hint="check `aegis stack status postgres`, then run the pass again") from None
        except psycopg.Error as exc:
            raise TerminalError(f"reconcile pass failed in PostgreSQL: {exc}".strip(),
                                code=ErrorCode.COLD_PATH_FAILED,
                                hint="is the schema current? run `aegis db migrate`") from None

    def _steps(self, report: ConsistencyReport, targets: dict[str, SinkBuilder],
               options: PassOptions) -> ConsistencyReport:
        config = self.settings.reconciler
        as_of = options.as_of or datetime.now(UTC)
        self._say(f"{report.run_id}{' (dry run)' if options.dry_run else ''}: targets {', '.join(targets)}")
        if not options.dry_run:
            self._record_run(report.run_id, "running")

        started = time.monotonic()
        with self._connect() as conn:
            view = ActiveView(conn)
            read_from_lsn = view.current_lsn()
            checksums = view.range_checksums(config.range_size)
            deep = self._deep_plan(conn, options)
        report.deep, report.deep_slice = deep.every, deep.slice_index
        self._say(f"postgresql: {sum(c.count for c in checksums.values()):,} active policies in "
                  f"{len(checksums):,} ranges of {config.range_size} ids ({time.monotonic() - started:.1f}s); "
                  f"{deep.describe()}")
        for outcome in self._reconcile_targets(targets, checksums, options, deep, read_from_lsn):
            report.targets.append(outcome.report)
            report.inconsistencies.extend(outcome.inconsistencies)
            report.fixes_applied.extend(outcome.fixes)

        with self._connect(autocommit=False) as conn:
            run: dict[str, Any] = dict(as_of=as_of, run_id=report.run_id, dry_run=options.dry_run,
                                       progress=self._say)
            summary = promote_pending(conn, threshold=config.quality_score_threshold,
                                      archive_grace_days=config.archive_grace_days,
                                      batch_size=config.cold_path_batch_size, **run)
            archive_expired(conn, archive_grace_days=config.archive_grace_days,
                            batch_size=config.cold_path_batch_size, summary=summary, **run)
            report.duplicates = archive_duplicates(conn, summary.activated_ids,
                                                   min_similarity=config.duplicate_title_similarity, **run)
            conn.commit()
        report.quality = summary
        report.finish()
        if not options.dry_run:
            with self._connect(autocommit=False) as conn:
                store_report(conn, report)
                conn.commit()
            self._record_run(report.run_id, "completed" if report.is_consistent else "failed", report)
        return report

    def _deep_plan(self, conn: psycopg.Connection, options: PassOptions) -> DeepPlan:
        """Every range (``--deep``), else the slice after the last stored pass's: each record every N passes."""
        slices = self.settings.reconciler.deep_slices
        if options.deep:
            return DeepPlan(every=True)
        if slices == 0:
            return DeepPlan()
        row = conn.execute("SELECT (report->>'deep_slice')::int FROM consistency_reports WHERE NOT dry_run "
                           "AND report->>'deep_slice' IS NOT NULL ORDER BY checked_at DESC LIMIT 1").fetchone()
        last = row[0] if row and row[0] is not None else -1
        return DeepPlan(slice_index=(last + 1) % slices, slices=slices)

    def _reconcile_targets(self, targets: dict[str, SinkBuilder], checksums, options: PassOptions,
                           deep: DeepPlan, read_from_lsn: int) -> list[TargetOutcome]:
        sinks = self.settings.sinks
        retry = RetryPolicy(attempts=sinks.retry_attempts, base_delay=sinks.retry_base_delay_seconds,
                            max_delay=sinks.retry_max_delay_seconds)
        jobs = [TargetJob(name=name, build_sink=builder, settings=self.settings, dry_run=options.dry_run, retry=retry,
                          listed_per_kind=LISTED_PER_TARGET, deep=deep, read_from_lsn=read_from_lsn)
                for name, builder in targets.items()]
        return run_jobs(jobs, checksums, self._say, mode=self.settings.reconciler.workers,
                        service=self.settings.service)

    def _record_failure(self, run_id: str) -> None:
        try:
            with self._connect() as conn:
                conn.execute("UPDATE pipeline_metadata SET status = 'failed', completed_at = now() "
                             "WHERE pipeline_run_id = %s AND status = 'running'", (run_id,))
        except AegisError:
            pass  # PostgreSQL is down: the row stays 'running', the error itself is raised

    def _record_run(self, run_id: str, status: str, report: ConsistencyReport | None = None) -> None:
        """Seed §10 ``pipeline_metadata``: one row per cold-path run."""
        with self._connect() as conn:
            if report is None:
                conn.execute("INSERT INTO pipeline_metadata (pipeline_run_id, processing_path, status) "
                             "VALUES (%s, 'cold', %s)", (run_id, status))
                return
            processed = (report.quality.scored if report.quality else 0) + sum(t.repaired for t in report.targets)
            failed = sum(1 for f in report.fixes_applied if f.action.value == "failed")
            conn.execute("UPDATE pipeline_metadata SET status = %s, completed_at = now(), records_processed = %s, "
                         "records_failed = %s, metadata = %s WHERE pipeline_run_id = %s",
                         (status, processed, failed, Jsonb(report.summary()), run_id))


def run_scheduled(reconciler: Reconciler, options: PassOptions, *, interval_seconds: int,
                  on_report: Callable[[ConsistencyReport], None], stop: threading.Event | None = None,
                  on_error: Callable[[AegisError], None] = lambda _: None) -> None:
    """Run a pass now and then every ``interval_seconds`` (``schedule`` library) until ``stop`` is set.

    A turn whose lock is busy (another process's pass) is skipped; errors are reported and the
    schedule goes on.
    """
    import schedule

    stop = stop or threading.Event()
    scheduler = schedule.Scheduler()

    def turn() -> None:
        try:
            on_report(reconciler.run_pass(options))
        except AegisError as exc:
            on_error(exc)

    scheduler.every(interval_seconds).seconds.do(turn)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    turn()
    while not stop.is_set():
        scheduler.run_pending()
        stop.wait(min(1.0, max(0.05, scheduler.idle_seconds or 1.0)))
