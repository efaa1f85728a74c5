import signal
import subprocess
import sys

from devstack.process import PidFile, is_alive, stop_process_group, tail


def _spawn_sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)


def test_pid_file_tracks_the_live_process_and_forgets_dead_ones(tmp_path):
    proc = _spawn_sleeper()
    pidfile = PidFile(tmp_path / "pids" / "svc.pid")
    pidfile.write(proc.pid)
    assert pidfile.read_live_pid() == proc.pid
    assert stop_process_group(proc.pid, signal.SIGTERM, timeout=5)
    proc.wait()
    assert not is_alive(proc.pid)
    assert pidfile.read_live_pid() is None
    assert not pidfile.path.exists()


def test_a_recycled_pid_is_not_taken_for_ours(tmp_path):
    pidfile = PidFile(tmp_path / "svc.pid")
    pidfile.path.write_text('{"pid": 1, "start_time": "0"}')  # pid 1 is alive but started elsewhen
    assert pidfile.read_live_pid() is None


def test_stop_escalates_to_sigkill_when_the_process_ignores_sigterm(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c",
                             "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                             "print('ready', flush=True); time.sleep(60)"],
                            start_new_session=True, stdout=subprocess.PIPE)
    proc.stdout.readline()
    assert stop_process_group(proc.pid, signal.SIGTERM, timeout=0.5) is False
    assert not is_alive(proc.pid)


def test_tail_returns_the_last_lines(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("\n".join(f"line {i}" for i in range(100)))
    assert tail(log, 3) == "line 97\nline 98\nline 99"
    assert tail(tmp_path / "missing.log") == "(no log written)"
