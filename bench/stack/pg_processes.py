"""Where the local stack's PostgreSQL spends its CPU: which backends, for whom.

    .venv/bin/python -m bench.stack.pg_processes --every 10 --for 120    # beside a load

Every PostgreSQL backend starts a session of its own, so a process-group meter sees only the
postmaster. This reads every process under the stack's postmaster (``.stack/pids/postgres.pid``)
and labels it by the title PostgreSQL gives it: ``walsender <role>`` (logical decoding for
Debezium), ``backend <role>`` (a client connection: Debezium's own queries, the collectors' or a
benchmark's writers, the reconciler), the background workers by name (``checkpointer``,
``walwriter``, ``autovacuum worker``, ...). Backends that exited between two samples are counted
as ``exited backends`` (the postmaster's reaped time).

Prints one JSON line per interval (cores per label) and a last line with the whole window's CPU
seconds per label, meant to run beside ``bench.e2e.e2e_bench`` to split PostgreSQL's per-change
cost into decoding, the writes themselves and the rest.

Behavior when things go wrong: PostgreSQL not running ends it with a message; a process that ends
between two samples is counted up to its last sample (the rest shows as ``exited backends``); a
title it cannot read is labelled ``unknown``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from pathlib import Path

from aegis.settings import load_settings
from testkit.cpu import all_stats, stack_groups, with_descendants

EXITED = "exited backends"


def label(pid: int, postmaster: int) -> str:
    """A readable kind for one PostgreSQL process, from the title PostgreSQL sets."""
    if pid == postmaster:
        return "postmaster"
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "unknown"
    words = title.removeprefix("postgres:").split()
    if not words:
        return "unknown"
    if words[0] == "walsender" and len(words) > 1:
        return f"walsender {words[1]}"
    if words[0] in ("autovacuum", "logical", "background", "parallel") and len(words) > 1:
        return f"{words[0]} {words[1]}"
    if len(words) >= 3 and ("(" in words[2] or words[2] == "[local]"):  # "<role> <database> <client> <state>"
        return f"backend {words[0]}"
    return words[0]


def sample(postmaster: int) -> tuple[dict[int, tuple[str, float]], float]:
    """pid → (label, own CPU seconds) for the postmaster's processes, and the postmaster's reaped seconds."""
    stats = all_stats()
    found = {s.pid: (label(s.pid, postmaster), s.own_seconds) for s in with_descendants(stats, {postmaster})}
    reaped = next((s.reaped_seconds for s in stats if s.pid == postmaster), 0.0)
    return found, reaped


def used(before: tuple[dict[int, tuple[str, float]], float],
         after: tuple[dict[int, tuple[str, float]], float]) -> Counter:
    """CPU seconds per label between two samples (a process born in between counts from zero)."""
    totals: Counter = Counter()
    for pid, (name, seconds) in after[0].items():
        totals[name] += seconds - before[0].get(pid, (name, 0.0))[1]
    gone = sum(seconds for pid, (_, seconds) in before[0].items() if pid not in after[0])
    totals[EXITED] += max(0.0, after[1] - before[1] - gone)  # reaped time beyond what we saw of them
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=float, default=10, help="seconds per line")
    parser.add_argument("--for", dest="duration", type=float, default=120, help="seconds in all")
    args = parser.parse_args()
    postmaster = stack_groups(load_settings().stack.state_path).get("postgres")
    if postmaster is None:
        raise SystemExit("PostgreSQL of the stack is not running (aegis stack up postgres)")
    first = before = sample(postmaster)
    started = last = time.monotonic()
    while last - started < args.duration:
        time.sleep(args.every)
        now, at = sample(postmaster), time.monotonic()
        cores = {k: round(v / (at - last), 3) for k, v in used(before, now).most_common() if v / (at - last) >= 0.005}
        print(json.dumps({"t": round(at - started), "loadavg": round(os.getloadavg()[0], 1), **cores}), flush=True)
        before, last = now, at
    total = {k: round(v, 2) for k, v in used(first, before).most_common() if v >= 0.01}
    print(json.dumps({"window_seconds": round(last - started), "cpu_seconds": total}), flush=True)


if __name__ == "__main__":
    main()
