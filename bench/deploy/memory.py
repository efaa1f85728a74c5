"""Peak memory of each Aegis Sync process, for the Kubernetes requests and limits (docs/deploy.md, Sizing).

Each component runs as its own process against the running local stack, in a corner of its own
(consumer groups ``benchmem-sink-*``, search alias ``benchmem-policies``, Redis prefix
``benchmem:policy:``, Neo4j namespace ``benchmem``, Milvus alias ``benchmem_policies``), so nothing
of the stack's own data is touched: each sink consumes the whole change topic from its start, the
collector collects the sample sources once, the reconciler runs one pass, the exporter refreshes.
Every second the resident memory of the process and its descendants (the reconciler's workers) is
read from ``/proc``; the peak is reported, with the peak of the largest single process.

    .venv/bin/python -m bench.deploy.memory [--seconds 90] [--only sink-search,...] [--markdown]

The corners are dropped afterwards. Memory does not depend on the machine being shared; the time a
sink needs to reach its steady state does (it is given ``--seconds``).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = os.sysconf("SC_PAGE_SIZE")
CORNER = {
    "SINKS_GROUP_ID_PREFIX": "benchmem-sink-",
    "SEARCH_INDEX_ALIAS": "benchmem-policies",
    "SINKS_REDIS_KEY_PREFIX": "benchmem:policy:",
    "NEO4J_NAMESPACE": "benchmem",
    "MILVUS_COLLECTION_ALIAS": "benchmem_policies",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def components() -> dict[str, tuple[list[str], bool]]:
    """name -> (aegis arguments, runs until stopped)."""
    found = {f"sink-{name}": (["sinks", "run", name, "--metrics-port", str(_free_port())], True)
             for name in ("search", "redis", "neo4j", "milvus")}
    found["collector"] = (["collect", "--once", "--quiet"], False)
    found["reconciler"] = (["reconcile", "--once"], False)
    found["exporter"] = (["exporter", "--port", str(_free_port()), "--host", "127.0.0.1", "--every", "2"], True)
    return found


def _tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return out


def _rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


@dataclass
class Peak:
    name: str
    total_mib: float = 0.0
    largest_mib: float = 0.0
    processes: int = 0
    exit_code: int | None = None
    seconds: float = 0.0


def measure(name: str, args: list[str], runs_until_stopped: bool, seconds: float) -> Peak:
    env = {**os.environ, **CORNER}
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "console.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    peak = Peak(name)
    while time.monotonic() - started < seconds:
        pids = _tree(proc.pid)
        sizes = [_rss(pid) for pid in pids]
        if sum(sizes) / 2**20 > peak.total_mib:
            peak.total_mib, peak.processes = sum(sizes) / 2**20, len(pids)
        peak.largest_mib = max(peak.largest_mib, max(sizes, default=0) / 2**20)
        if proc.poll() is not None:
            break
        time.sleep(1)
    if proc.poll() is None:
        if not runs_until_stopped:
            print(f"{name}: still running after {seconds:.0f}s, stopped", file=sys.stderr)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    peak.exit_code, peak.seconds = proc.returncode, time.monotonic() - started
    return peak


def drop_corners() -> None:
    from aegis.settings import load_settings
    from cdc_sinks.registry import build_sink, sink_names

    saved = {k: os.environ.get(k) for k in CORNER}
    os.environ.update(CORNER)
    try:
        settings = load_settings()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    for name in sink_names():
        sink = build_sink(name, settings)
        try:
            sink.drop_namespace()
        finally:
            sink.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=90, help="how long each component runs at most")
    parser.add_argument("--only", default="", help="comma list of components (default: all)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table row per component")
    args = parser.parse_args()
    chosen = {n: c for n, c in components().items() if not args.only or n in args.only.split(",")}
    peaks = []
    try:
        for name, (cli_args, until_stopped) in chosen.items():
            peak = measure(name, cli_args, until_stopped, args.seconds)
            peaks.append(peak)
            print(f"{name}: peak {peak.total_mib:.0f} MiB over {peak.processes} process(es) "
                  f"(largest {peak.largest_mib:.0f} MiB), exit {peak.exit_code}, {peak.seconds:.0f}s", flush=True)
    finally:
        drop_corners()
    if args.markdown:
        print("| component | peak RSS (process tree) | largest process | processes | exit | ran |")
        print("|---|---|---|---|---|---|")
        for p in peaks:
            print(f"| {p.name} | {p.total_mib:.0f} MiB | {p.largest_mib:.0f} MiB | {p.processes} | {p.exit_code} | {p.seconds:.0f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
