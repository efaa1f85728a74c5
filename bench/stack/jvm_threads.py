"""Where the local stack's JVMs spend their CPU: JIT compilation, garbage collection or the work itself.

    .venv/bin/python -m bench.stack.jvm_threads --every 10 --for 300     # a line per JVM every 10 s

Reads every thread's CPU time from ``/proc/PID/task`` of the stack's Java servers (``.stack/pids``
of the configured stack) and sorts each thread by its name: the HotSpot compiler threads (``C1`` /
``C2 CompilerThread``), the collector's threads (``GC Thread``, ``G1 …``, ``VM Thread``) and the
rest, the server's own work. Thread names longer than 15 characters are cut by the kernel, so the
work is broken down further with ``jcmd PID Thread.print`` (thread id → full name, e.g.
OpenSearch's ``[write]``, ``[refresh]``, ``[search]`` pools) when ``--pools`` is given.

Prints one JSON line per interval: per JVM, cores used in each category over the interval. Meant
to run beside a load (``bench.e2e.e2e_bench``) to tell a cold JVM (compiling) from a busy one.

Behavior when things go wrong: a server that is not running is left out, and one that starts or
restarts (a new pid) shows as ``{"started": PID}`` for one interval, then is followed; when no JVM
of the stack runs any more it says so and ends; a thread that ends between two samples is counted
up to its last sample; ``jcmd`` failing (no JDK tools, another user) leaves the pools out and says
so on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from aegis.settings import StackSettings, load_settings
from devstack.java import jdk_tool
from testkit.cpu import TICKS, stack_groups

JIT = re.compile(r"^C[12] CompilerThre")  # the kernel keeps 15 characters of "C2 CompilerThread0"
GC = re.compile(r"^(GC Thread|G1 |VM Thread|GC |Sweeper)")
JVM_SERVERS = ("kafka", "kafka-connect", "neo4j", "opensearch", "apicurio")


def running_jvms(state_path: Path) -> dict[str, int]:
    """The stack's Java servers now running: name → pid."""
    return {name: pid for name, pid in stack_groups(state_path).items() if name in JVM_SERVERS}


def threads(pid: int) -> dict[int, tuple[str, float]]:
    """Thread id → (kernel name, CPU seconds) of one process."""
    found = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            name = (task / "comm").read_text().strip()
            stat = (task / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        found[int(task.name)] = (name, (int(fields[11]) + int(fields[12])) / TICKS)
    return found


def full_names(stack: StackSettings, pid: int) -> dict[int, str]:
    """Thread id → the JVM's own thread name (``jcmd Thread.print`` of the JVM's own JDK), or {} if
    jcmd cannot tell."""
    try:
        out = subprocess.run([jdk_tool(stack, "jcmd", pid), str(pid), "Thread.print"], capture_output=True, text=True,
                             timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as error:
        print(f"jcmd {pid}: {error}", file=sys.stderr)
        return {}
    names = {}
    for line in out.splitlines():
        if match := re.match(r'^"(.*?)".* nid=(0x[0-9a-f]+|\d+)', line):  # hex on JDK 17, decimal on 19+
            names[int(match.group(2), 0)] = match.group(1)
    return names


def category(kernel_name: str, full_name: str | None, pools: bool) -> str:
    if JIT.match(kernel_name):
        return "jit:" + kernel_name[:2].lower()
    if GC.match(kernel_name):
        return "gc"
    if not pools or not full_name:
        return "work"
    pool = re.search(r"\]\[([a-z_]+)\]", full_name)  # OpenSearch: opensearch[node][write][T#1]
    if pool:
        return f"work:{pool.group(1)}"
    return "work:" + re.sub(r"[-#\s]*\d+$", "", full_name.split("]")[-1] or full_name)[:30]


def sample(stack: StackSettings, pids: dict[str, int], pools: bool,
           names: dict[int, dict[int, str]]) -> dict[str, Counter]:
    result = {}
    for server, pid in pids.items():
        known = names.setdefault(pid, {})
        per = Counter()
        for tid, (kernel_name, seconds) in threads(pid).items():
            if pools and tid not in known:
                known.update(full_names(stack, pid))
                known.setdefault(tid, kernel_name)
            per[category(kernel_name, known.get(tid), pools)] += seconds
        result[server] = per
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=float, default=10, help="seconds per line")
    parser.add_argument("--for", dest="duration", type=float, default=300, help="seconds in all")
    parser.add_argument("--pools", action="store_true", help="break the work down by the JVM's thread names (jcmd)")
    args = parser.parse_args()
    stack = load_settings().stack
    pids = running_jvms(stack.state_path)
    if not pids:
        raise SystemExit("no JVM of the stack is running (aegis stack up)")
    names: dict[int, dict[int, str]] = {}
    before, started = sample(stack, pids, args.pools, names), time.monotonic()
    last = started
    while last - started < args.duration:
        time.sleep(args.every)
        earlier, pids = pids, running_jvms(stack.state_path)
        if not pids:
            print("the stack's JVMs have stopped", file=sys.stderr)
            return
        now, at = sample(stack, pids, args.pools, names), time.monotonic()
        line: dict[str, object] = {"t": round(at - started), "loadavg": round(os.getloadavg()[0], 1)}
        for server, per in now.items():
            if earlier.get(server) != pids[server]:  # (re)started since the last sample: counted from the next
                line[server] = {"started": pids[server]}
                continue
            delta = {k: round((v - before[server].get(k, 0)) / (at - last), 3) for k, v in per.items()}
            line[server] = {k: v for k, v in sorted(delta.items(), key=lambda kv: -kv[1]) if v >= 0.005}
        print(json.dumps(line), flush=True)
        before, last = now, at


if __name__ == "__main__":
    main()
