"""The schedule: API sources every COLLECTION_INTERVAL_HOURS, web boards daily at 00:00 KST."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytz
import schedule

from aegis.settings import load_settings
from collectors.runner import PassResult
from collectors.scheduler import CollectionScheduler
from collectors.sources.base import SourceKind


class RecordingCollector:
    def __init__(self) -> None:
        self.passes: list[set[SourceKind]] = []

    def run_once(self, names=None, kinds=None, progress=None) -> PassResult:
        self.passes.append(kinds)
        return PassResult(run_id=f"run-{len(self.passes)}", summaries=[], seconds=0.0)


def test_jobs_follow_the_seed_schedule():
    settings = load_settings(env_file=None)
    collector = RecordingCollector()
    scheduler = CollectionScheduler(settings, collector, scheduler=schedule.Scheduler())
    api, boards = scheduler.install()
    assert (api.interval, api.unit) == (6, "hours")
    assert boards.unit == "days" and boards.at_time.strftime("%H:%M") == "00:00"
    assert str(boards.at_time_zone) == "Asia/Seoul"
    # the next board run is a midnight in Korea
    next_kst = boards.next_run.astimezone().astimezone(pytz.timezone("Asia/Seoul"))
    assert (next_kst.hour, next_kst.minute) == (0, 0)
    assert timedelta(0) < api.next_run - datetime.now() <= timedelta(hours=6)


def test_due_jobs_run_their_kind_and_run_now_collects_apis_first():
    settings = load_settings(env_file=None)
    collector = RecordingCollector()
    results = []
    scheduler = CollectionScheduler(settings, collector, on_result=lambda kind, r: results.append((kind, r.run_id)),
                                    scheduler=schedule.Scheduler())
    api, boards = scheduler.install()
    boards.next_run = datetime.now() - timedelta(seconds=1)  # due now
    stop = threading.Event()
    runner = threading.Thread(target=scheduler.run, args=(stop,), kwargs={"run_now": True, "poll_seconds": 0.05})
    runner.start()
    deadline = datetime.now() + timedelta(seconds=5)
    while len(collector.passes) < 2 and datetime.now() < deadline:
        stop.wait(0.05)
    stop.set()
    runner.join(timeout=5)
    assert collector.passes[:2] == [{SourceKind.API}, {SourceKind.BOARD}]
    assert results[:2] == [(SourceKind.API, "run-1"), (SourceKind.BOARD, "run-2")]


def test_a_failing_pass_does_not_stop_the_scheduler():
    class Exploding(RecordingCollector):
        def run_once(self, names=None, kinds=None, progress=None):
            raise RuntimeError("boom")

    scheduler = CollectionScheduler(load_settings(env_file=None), Exploding(), scheduler=schedule.Scheduler())
    assert scheduler.run_pass(SourceKind.API) is None
