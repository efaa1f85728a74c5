"""Cold start of the native local stack: a fresh state directory (new PostgreSQL cluster, new
KRaft log, jars copied from the warm Maven cache) until every service is healthy.

    .venv/bin/python -m bench.stack.cold_start [--runs 3]

Runs on private ports (+800) so a running stack is not disturbed. Prints a Markdown table row.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time

from aegis.settings import load_settings
from devstack.manager import StackManager

OFFSET = 800


def one_run() -> tuple[float, dict[str, float]]:
    state = tempfile.mkdtemp(prefix="aegis-cold-")
    env = {
        "AEGIS_STACK_STATE_DIR": state,
        "POSTGRES_PORT": str(25432 + OFFSET), "REDIS_PORT": str(26379 + OFFSET),
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{29092 + OFFSET}",
        "AEGIS_STACK_KAFKA_CONTROLLER_PORT": str(29093 + OFFSET),
        "KAFKA_CONNECT_URL": f"http://127.0.0.1:{28083 + OFFSET}",
    }
    os.environ.update(env)
    settings = load_settings(env_file=None)
    manager = StackManager(settings)
    marks: dict[str, float] = {}
    started = time.monotonic()
    manager.up(progress=lambda line: marks.setdefault(line.split(":")[0], time.monotonic() - started)
               if "healthy in" in line else None)
    total = time.monotonic() - started
    manager.down()
    shutil.rmtree(state, ignore_errors=True)
    return total, marks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    totals = []
    for i in range(args.runs):
        total, marks = one_run()
        totals.append(total)
        print(f"run {i + 1}: {total:.1f}s  " + "  ".join(f"{k} at {v:.1f}s" for k, v in marks.items()))
    print(f"\n| {platform.node()} | {os.cpu_count()} cores | runs {args.runs} | median {statistics.median(totals):.1f} s "
          f"| min {min(totals):.1f} s | max {max(totals):.1f} s |")


if __name__ == "__main__":
    main()
