import os
import subprocess
import sys
import time

from bench.common.cpu import CpuMeter, ProcStat, group_cpu, read_stat, stack_groups, tree_cpu
from bench.e2e.report import cpu_budget, cpu_markdown


def test_read_stat_of_this_process_and_of_a_gone_one():
    me = read_stat(os.getpid())
    assert me.pid == os.getpid() and me.ppid == os.getppid() and me.pgrp == os.getpgrp()
    assert me.cpu_seconds >= me.own_seconds >= 0
    assert read_stat(2**22 + 1) is None  # above pid_max


def test_a_tree_counts_descendants_and_a_group_its_members():
    stats = [ProcStat(10, 1, 10, 1.0, 0.5), ProcStat(11, 10, 10, 2.0, 0.0), ProcStat(12, 11, 10, 4.0, 0.0),
             ProcStat(20, 1, 20, 8.0, 0.0)]
    assert tree_cpu(stats, 10) == 7.5
    assert tree_cpu(stats, 11) == 6.0
    assert group_cpu(stats, 10) == 7.5 and group_cpu(stats, 20) == 8.0


def test_the_meter_sees_a_busy_child_and_a_stack_pid_file(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "import time\nend = time.process_time() + 0.3\n"
                              "while time.process_time() < end: pass\ntime.sleep(30)"], start_new_session=True)
    try:
        (tmp_path / "pids").mkdir()
        (tmp_path / "pids" / "busy.pid").write_text(f'{{"pid": {child.pid}, "start_time": "x"}}')
        (tmp_path / "pids" / "gone.pid").write_text('{"pid": 4194304, "start_time": "x"}')
        assert stack_groups(tmp_path) == {"busy": child.pid}
        meter = CpuMeter(tmp_path, lambda: {"search": child.pid})
        before = meter.sample()
        time.sleep(1.0)
        used = CpuMeter.since(before, meter.sample())
        assert set(used) == {"busy", "sink search", "benchmark"}
        assert 0.2 <= used["busy"] <= 1.0 and used["busy"] == used["sink search"]
    finally:
        child.kill()
        child.wait()


def test_the_budget_is_net_of_idle_and_names_the_rate_the_cores_would_carry():
    run = {"group": ["search", "redis"], "rate": 1000, "achieved_rate": 990.0, "changes": 10_000,
           "cpu": {"wall_s": 20.0, "seconds": {"kafka": 4.0, "sink search": 6.0, "benchmark": 3.0},
                   "idle_per_second": {"kafka": 0.05, "sink search": 0.0, "benchmark": 0.0}}}
    budget = cpu_budget(run, cores=2)
    assert budget["components"]["kafka"] == {"cpu_s": 4.0, "cores": 0.2, "us_per_change": 300}
    assert budget["components"]["sink search"]["us_per_change"] == 600
    assert budget["pipeline_us_per_change"] == 900  # the benchmark's own 300 µs are not the pipeline's
    assert budget["ceiling_per_s"] == round((2 - 0.05) / 900e-6)
    table = "\n".join(cpu_markdown({"machine": {"cores": 2}, "runs": [run]}))
    assert "| sink search | 600 µs (0.3) |" in table and "2,167/s" in table
    assert cpu_budget({**run, "cpu": None}, cores=2) is None
