"""Start and stop of the local stack's cluster profile: PostgreSQL, three KRaft nodes and two Kafka
Connect workers (AEGIS_STACK_KAFKA_BROKERS=3, AEGIS_STACK_CONNECT_WORKERS=2) in a fresh state
directory (new PostgreSQL cluster, new KRaft storage; the server jars linked from the stack of
``.env``, so jar copying is not counted), from `aegis stack up` to every service healthy, then
`aegis stack down`.

    .venv/bin/python -m bench.stack.cluster_start [--runs 3]

Runs on the ports of ``.env``'s stack + 800, so that stack (stopped or not) is not disturbed.
Prints one line per run and a Markdown table row.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time

import httpx

from aegis.settings import load_settings
from devstack.manager import StackManager

OFFSET = 800
SERVICES = ["postgres", "kafka", "kafka-2", "kafka-3", "kafka-connect", "kafka-connect-2"]


def one_run() -> tuple[float, float, dict[str, float]]:
    user = load_settings()
    state = tempfile.mkdtemp(prefix="aegis-cluster-")
    for jars in user.stack.state_path.glob("jars*"):
        os.symlink(jars.resolve(), os.path.join(state, jars.name))
    kafka = int(user.kafka.bootstrap_servers.split(",")[0].rsplit(":", 1)[1]) + OFFSET
    os.environ.update({
        "AEGIS_STACK_STATE_DIR": state, "AEGIS_STACK_KAFKA_BROKERS": "3", "AEGIS_STACK_CONNECT_WORKERS": "2",
        "POSTGRES_PORT": str(user.postgres.port + OFFSET),
        "KAFKA_BOOTSTRAP_SERVERS": ",".join(f"127.0.0.1:{kafka + 2 * n}" for n in range(3)),
        "AEGIS_STACK_KAFKA_CONTROLLER_PORT": str(user.stack.kafka_controller_port + OFFSET),
        "KAFKA_CONNECT_URL": f"http://127.0.0.1:{(httpx.URL(user.kafka.connect_url).port or 8083) + OFFSET}",
    })
    manager = StackManager(load_settings(env_file=None))
    marks: dict[str, float] = {}
    started = time.monotonic()
    try:
        manager.up(SERVICES, progress=lambda line: marks.setdefault(line.split(":")[0], time.monotonic() - started)
                   if " in " in line and "(pid" in line else None)
        up = time.monotonic() - started
    finally:
        stopping = time.monotonic()
        manager.down(SERVICES)
        down = time.monotonic() - stopping
        shutil.rmtree(state, ignore_errors=True)
    return up, down, marks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    ups, downs = [], []
    for i in range(args.runs):
        up, down, marks = one_run()
        ups.append(up)
        downs.append(down)
        at = "  ".join(f"{k} at {v:.1f}s" for k, v in marks.items())
        print(f"run {i + 1}: up {up:.1f} s, down {down:.1f} s  {at}", flush=True)
    print(f"\n| {time.strftime('%Y-%m-%d')} | {args.runs} | up median {statistics.median(ups):.1f} s "
          f"(min {min(ups):.1f}, max {max(ups):.1f}) | down median {statistics.median(downs):.1f} s "
          f"(max {max(downs):.1f}) |")


if __name__ == "__main__":
    main()
