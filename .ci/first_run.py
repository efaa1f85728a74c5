"""CI, after `make test`: a new user's first `make run` (README, Quick start) sees only its own data.

1. `make test` ran on the test stack (tests/stack-test.env): the user's state directory holds no
   server data and no process listens on the user's ports;
2. `make run` in the background (the user's settings: `.env` if present, else the defaults);
3. `aegis status --json` every 10 s: the first status in which every target has caught up (every
   sink running with zero lag, each target holding PostgreSQL's active records, the first reconcile
   pass done, nothing pending) must be `all well` with zero dead letters — leftovers of the tests
   (their policies, change events, dead letters) would show there;
4. the main job is stopped with Ctrl-C and the servers with `make stop`, whatever happened.

Exit 0 when the first caught-up status is all well, 1 otherwise. Run from the repository root.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AEGIS = [str(REPO / ".venv" / "bin" / "aegis")]
CONVERGE_SECONDS = 20 * 60
SERVER_DIRS = ("postgres", "redis", "kafka", "kafka-connect", "neo4j", "opensearch", "milvus", "logs")


def say(line: str) -> None:
    print(f"[first run] {line}", flush=True)


def user_settings():
    sys.path.insert(0, str(REPO))
    from aegis.settings import load_settings

    return load_settings(REPO / ".env")


def check_untouched(settings) -> list[str]:
    """What `make test` may not have left in the user's stack: server data, or a listening port."""
    from devstack.base import port_open
    from devstack.manager import StackManager

    problems = []
    state = settings.stack.state_path
    written = [name for name in SERVER_DIRS if (state / name).exists()]
    if written:
        problems.append(f"the user's state directory {state} holds {', '.join(written)} before the first `make run`")
    for service in StackManager(settings).services:
        if port_open(service.port):
            problems.append(f"port {service.port} ({service.name} of the user's stack) is in use before `make run`")
    return problems


def status() -> tuple[int, dict | None]:
    result = subprocess.run([*AEGIS, "status", "--json"], capture_output=True, text=True, cwd=REPO, timeout=180)
    try:
        return result.returncode, json.loads(result.stdout)
    except ValueError:
        return result.returncode, None


def caught_up(s: dict) -> bool:
    active = s.get("postgres_active") or 0
    return (active > 0 and s.get("last_reconcile") is not None
            and not s.get("policies_by_status", {}).get("pending_validation")
            and all(k["state"] == "running" and k["lag_events"] == 0 and k["target_count"] == active
                    for k in s["sinks"]))


def main() -> int:
    settings = user_settings()
    problems = check_untouched(settings)
    if problems:
        for p in problems:
            say(f"FAIL: {p}")
        return 1
    say(f"user's stack: state directory {settings.stack.state_path}, PostgreSQL port {settings.postgres.port}")
    log = (REPO / ".ci" / "first-run.log").open("w")
    job = subprocess.Popen(["make", "run"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    started = time.monotonic()
    s: dict | None = None
    try:
        while time.monotonic() - started < CONVERGE_SECONDS:
            if job.poll() is not None:
                say(f"FAIL: `make run` exited with code {job.returncode} (log .ci/first-run.log)")
                return 1
            time.sleep(10)
            code, s = status()
            if s is None or not caught_up(s):
                continue
            dead = s.get("dead_letters")
            say(f"first caught-up status after {time.monotonic() - started:.0f}s: exit {code}, "
                f"active {s['postgres_active']}, dead letters {dead}, attention {s['attention']}")
            print(subprocess.run([*AEGIS, "status"], capture_output=True, text=True, cwd=REPO).stdout, flush=True)
            verdict = 0 if code == 0 and not s["attention"] and dead == 0 else 1
            say("OK: all well, zero dead letters" if verdict == 0 else "FAIL: the first caught-up status is not all well")
            return verdict
        say(f"FAIL: the targets did not catch up within {CONVERGE_SECONDS}s; last status: {json.dumps(s)[:3000]}")
        return 1
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGINT)
            try:
                job.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(job.pid, signal.SIGKILL)
        subprocess.run(["make", "stop"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        log.close()


if __name__ == "__main__":
    sys.exit(main())
