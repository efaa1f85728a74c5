import os
import signal
import sys
import time

from console.supervisor import ProcessSpec, Supervisor


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def _wait_for_file(path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_a_crashed_child_is_restarted_with_backoff_and_reported(tmp_path):
    lines: list[str] = []
    counter = tmp_path / "starts"
    spec = ProcessSpec("crashy", _python(
        f"open({str(counter)!r}, 'a').write('x'); import sys; sys.exit(3)"))
    sup = Supervisor([spec], tmp_path / "logs", lines.append, base_backoff=0.2, max_backoff=0.4)
    sup.start_all()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(counter.read_text() if counter.exists() else "") < 3:
        time.sleep(0.05)
        sup.poll()
    sup.stop()
    assert len(counter.read_text()) >= 3
    assert any("crashy: exited with code 3; restarting in" in line for line in lines)


def test_stop_sends_sigterm_and_children_exit_cleanly(tmp_path):
    marker = tmp_path / "graceful"
    code = ("import signal, sys, time\n"
            f"def done(*_):\n    open({str(marker)!r}, 'w').write('bye'); sys.exit(0)\n"
            "signal.signal(signal.SIGTERM, done)\n"
            f"open({str(tmp_path / 'ready')!r}, 'w').close()\n"
            "while True: time.sleep(0.05)\n")
    lines: list[str] = []
    sup = Supervisor([ProcessSpec("worker", _python(code))], tmp_path / "logs", lines.append)
    sup.start_all()
    _wait_for_file(tmp_path / "ready")
    pid = sup.pids()["worker"]
    sup.stop()
    assert marker.read_text() == "bye"
    assert "worker: stopped (exit 0)" in lines
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"


def test_a_child_ignoring_sigterm_is_killed_after_the_grace_period(tmp_path):
    code = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            f"open({str(tmp_path / 'ready')!r}, 'w').close(); time.sleep(60)")
    lines: list[str] = []
    sup = Supervisor([ProcessSpec("stubborn", _python(code))], tmp_path / "logs", lines.append, stop_grace=0.5)
    sup.start_all()
    _wait_for_file(tmp_path / "ready")
    sup.stop()
    assert any(line.startswith("stubborn: killed after") for line in lines), lines


def test_run_stops_on_sigint(tmp_path):
    lines: list[str] = []
    sup = Supervisor([ProcessSpec("sleeper", _python("import time; time.sleep(60)"))], tmp_path / "logs",
                     lines.append, stop_grace=5)
    ticks = []

    def tick():
        ticks.append(1)
        if len(ticks) == 2:
            os.kill(os.getpid(), signal.SIGINT)

    sup.run(tick=tick, interval=0.1)
    assert "stopping ..." in lines and any(l.startswith("sleeper: stopped") for l in lines)


def test_a_process_added_later_is_started_and_supervised_like_the_first(tmp_path):
    lines: list[str] = []
    counter = tmp_path / "starts"
    sup = Supervisor([ProcessSpec("sleeper", _python("import time; time.sleep(60)"))], tmp_path / "logs",
                     lines.append, base_backoff=0.2, max_backoff=0.4)
    sup.start_all()
    sup.add(ProcessSpec("member-2", _python(f"open({str(counter)!r}, 'a').write('x'); import sys; sys.exit(3)")))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(counter.read_text() if counter.exists() else "") < 2:
        time.sleep(0.05)
        sup.poll()
    sup.stop()
    assert len(counter.read_text()) >= 2 and set(sup.pids()) == {"sleeper", "member-2"}
    assert any("member-2: exited with code 3; restarting in" in line for line in lines)
