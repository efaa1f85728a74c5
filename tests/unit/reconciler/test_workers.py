"""Worker processes: a job crosses into a spawned process and its outcome comes back."""

from functools import partial

import pytest

from aegis.retry import RetryPolicy
from aegis.settings import load_settings
from reconciler.report import TargetStatus
from reconciler.workers import TargetJob, run_jobs


class DownSink:
    """A target that never answers (module level: picklable for the worker process)."""

    name = "down"

    def ping(self) -> bool:
        return False

    def close(self) -> None:
        pass


def build_down_sink(label: str) -> DownSink:
    return DownSink()


def broken_builder() -> DownSink:
    raise RuntimeError("the sink cannot be built")


@pytest.mark.parametrize("mode", ["process", "thread"])
def test_outcomes_come_back_from_workers_in_job_order(mode):
    jobs = [TargetJob(name=name, build_sink=builder, settings=load_settings(None),
                      dry_run=True, retry=RetryPolicy(attempts=1), listed_per_kind=10)
            for name, builder in (("a", partial(build_down_sink, "a")), ("b", broken_builder))]
    lines: list[str] = []
    outcomes = run_jobs(jobs, {}, lines.append, mode=mode)
    assert [o.report.target for o in outcomes] == ["a", "b"]
    assert outcomes[0].report.status is TargetStatus.UNREACHABLE
    assert outcomes[1].report.status is TargetStatus.FAILED
    assert "cannot be built" in outcomes[1].report.error
