"""A CPU-bound sink's process yields to the others: `aegis sinks run milvus` lowers its priority."""

from __future__ import annotations

import subprocess
import sys

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
