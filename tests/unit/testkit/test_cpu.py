import os
import subprocess
import sys
import time

from testkit.cpu import CpuMeter, ProcStat, group_cpu, read_stat, server_cpu, stack_groups, tree_cpu


def test_read_stat_of_this_process_and_of_a_gone_one():
    me = read_stat(os.getpid())
    assert me.pid == os.getpid() and me.ppid == os.getppid() and me.pgrp == os.getpgrp()
    assert me.cpu_seconds >= me.own_seconds >= 0
    assert read_stat(2**22 + 1) is None  # above pid_max


def test_an_exited_process_not_yet_reaped_counts_as_gone():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 30
        while _state(child.pid) != "Z" and time.monotonic() < deadline:  # exited, not yet waited for
            time.sleep(0.01)
        assert _state(child.pid) == "Z"
        assert read_stat(child.pid) is None
    finally:
        child.wait()


def _state(pid: int) -> str:
    text = open(f"/proc/{pid}/stat").read()
    return text[text.rindex(")") + 2:].split()[0]


def test_a_tree_counts_descendants_and_a_group_its_members():
    stats = [ProcStat(10, 1, 10, 1.0, 0.5), ProcStat(11, 10, 10, 2.0, 0.0), ProcStat(12, 11, 10, 4.0, 0.0),
             ProcStat(20, 1, 20, 8.0, 0.0)]
    assert tree_cpu(stats, 10) == 7.5
    assert tree_cpu(stats, 11) == 6.0
    assert group_cpu(stats, 10) == 7.5 and group_cpu(stats, 20) == 8.0


def test_a_server_counts_its_group_and_children_in_sessions_of_their_own():
    # a postmaster (10) with a backend in its own session (11, as PostgreSQL's are), that backend's
    # child, a helper sharing the group (13), and an unrelated process (20)
    stats = [ProcStat(10, 1, 10, 1.0, 0.5), ProcStat(11, 10, 11, 2.0, 0.0), ProcStat(12, 11, 11, 4.0, 0.0),
             ProcStat(13, 1, 10, 0.25, 0.0), ProcStat(20, 1, 20, 8.0, 0.0)]
    assert server_cpu(stats, 10) == 7.75
    assert group_cpu(stats, 10) == 1.75  # what a group alone sees


def test_the_meter_sees_a_busy_child_and_a_stack_pid_file(tmp_path):
    # the child burns 0.3 s of CPU when told to and says when it is done: no wall-clock guess,
    # so a loaded machine only makes the test slower
    child = subprocess.Popen([sys.executable, "-c", "import sys, time\nsys.stdin.readline()\n"
                              "end = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"
                              "print('done', flush=True)\ntime.sleep(60)"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        (tmp_path / "pids").mkdir()
        (tmp_path / "pids" / "busy.pid").write_text(f'{{"pid": {child.pid}, "start_time": "x"}}')
        (tmp_path / "pids" / "gone.pid").write_text('{"pid": 4194304, "start_time": "x"}')
        assert stack_groups(tmp_path) == {"busy": child.pid}
        meter = CpuMeter(tmp_path, lambda: {"search": child.pid})
        before = meter.sample()
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "done"
        used = CpuMeter.since(before, meter.sample())
        assert set(used) == {"busy", "sink search", "benchmark"}
        assert 0.25 <= used["busy"] <= 1.0 and used["busy"] == used["sink search"]
    finally:
        child.kill()
        child.wait()
