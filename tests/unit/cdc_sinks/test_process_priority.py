"""How a sink process tunes itself: a CPU-bound sink yields to the others (`aegis sinks run milvus` lowers
its priority), and every sink collects garbage less often."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CHILD = ("import os; from aegis.settings import load_settings; from cdc_sinks.service import lower_priority; "
         "before = os.nice(0); step = lower_priority({name!r}, load_settings(env_file=None)); "
         "print(before, step, os.nice(0))")


@pytest.mark.parametrize(("name", "env", "added"), [("milvus", {}, 10), ("milvus", {"EMBEDDING_NICE": "0"}, 0),
                                                     ("redis", {}, 0), ("search", {}, 0)])
def test_only_the_embedding_sink_lowers_its_priority_by_its_setting(name, env, added, monkeypatch):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    out = subprocess.run([sys.executable, "-c", CHILD.format(name=name)], capture_output=True, text=True, check=True)
    before, step, after = map(int, out.stdout.split())
    assert step == added and after == min(before + added, 19)


AUTOGROUP_CHILD = ("import os; from pathlib import Path; from cdc_sinks.service import lower_autogroup; "
                   "print(lower_autogroup(7, Path({path!r})))")


def test_a_session_leader_lowers_its_autogroup_and_a_shell_child_does_not(tmp_path):
    autogroup = tmp_path / "autogroup"
    autogroup.write_text("/autogroup-1 nice 0\n")
    child = [sys.executable, "-c", AUTOGROUP_CHILD.format(path=str(autogroup))]
    shared = subprocess.run(child, capture_output=True, text=True, check=True)
    assert "shared session" in shared.stdout and autogroup.read_text() == "/autogroup-1 nice 0\n"
    leader = subprocess.run(child, capture_output=True, text=True, check=True, start_new_session=True)
    assert leader.stdout.strip() == "7" and autogroup.read_text() == "7"


@pytest.mark.skipif(not Path("/proc/self/autogroup").exists(), reason="this kernel has no autogroup scheduling")
def test_the_real_autogroup_of_a_session_leader_is_lowered():
    out = subprocess.run([sys.executable, "-c", "from cdc_sinks.service import lower_autogroup; print(lower_autogroup(5))"],
                         capture_output=True, text=True, check=True, start_new_session=True)
    assert out.stdout.strip().endswith("nice 5"), out.stdout


def test_a_sink_process_collects_its_young_objects_every_10000_allocations_not_700():
    child = ("import gc; from cdc_sinks.service import relax_garbage_collector; before = gc.get_threshold(); "
             "relax_garbage_collector(); print(*before, *gc.get_threshold())")
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True)
    values = list(map(int, out.stdout.split()))
    assert values[:3] == [700, 10, 10] and values[3:] == [10_000, 10, 10]
