"""What the local stack's JVMs compile, phase by phase: new code, or code compiled again.

    .venv/bin/python -m bench.stack.jit_compiles start                 # JFR on every JVM of the stack
    .venv/bin/aegis stack warm-up
    .venv/bin/python -m bench.stack.jit_compiles mark run1
    .venv/bin/python -m bench.e2e.e2e_bench --rates 50,200 --seconds 30 --targets search,neo4j,redis
    .venv/bin/python -m bench.stack.jit_compiles mark end
    .venv/bin/python -m bench.stack.jit_compiles report --server opensearch

``start`` begins a Java Flight Recorder recording of HotSpot's ``jdk.Compilation`` (every
compilation, no threshold) and ``jdk.Deoptimization`` events in each Java server of the configured
stack (``jcmd PID JFR.start``), and marks the phase ``start``. ``mark LABEL`` begins the next phase.
``report`` dumps the recordings (``jcmd JFR.dump``), reads them with the JDK's ``jfr print`` and
prints, per server and phase: the C1 and C2 compile time (the compiler threads' wall time, which
includes time they waited for a core), the C2 work split into methods compiled for the first time
and methods compiled again (profiled anew after a deoptimization), the most expensive of each, and
the deoptimizations by reason. ``bench/stack/jvm_threads.py`` gives the same JVMs' CPU by thread.

It answers what ``jvm_threads`` cannot: whether a warm-up failed to reach code (new methods in the
first load) or reached it with the wrong profile (the same methods deoptimized and compiled again).
"New" means not compiled by C2 since the recording started, so start it right after ``aegis stack
up --warm-up-seconds 0`` and run the warm-up as its first phase.

Behavior when things go wrong: a server that is not running, or whose ``jcmd`` fails, is named on
stderr and left out; ``report`` before ``start`` says to run ``start``. The state (pids, recording
files, phase marks) is ``jit_compiles.json`` in the stack's state directory; the recordings end
with their JVM.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from aegis.settings import StackSettings, load_settings
from bench.stack.jvm_threads import running_jvms
from devstack.java import jdk_tool

RECORDING = "aegis-jit"
COMPILATION, DEOPTIMIZATION = "jdk.Compilation", "jdk.Deoptimization"
EVENTS = """<?xml version="1.0" encoding="UTF-8"?>
<configuration version="2.0" label="compilations">
  <event name="jdk.Compilation">
    <setting name="enabled">true</setting><setting name="threshold">0 ms</setting>
  </event>
  <event name="jdk.Deoptimization">
    <setting name="enabled">true</setting><setting name="stackTrace">false</setting>
  </event>
</configuration>
"""


def _state_file(stack: StackSettings) -> Path:
    return stack.state_path / "jit_compiles.json"


def start(stack: StackSettings) -> None:
    pids = running_jvms(stack.state_path)
    if not pids:
        raise SystemExit("no JVM of the stack is running (aegis stack up)")
    events = stack.state_path / "jit_compiles.jfc"
    events.write_text(EVENTS)
    recordings = {}
    for server, pid in sorted(pids.items()):
        jcmd = jdk_tool(stack, "jcmd", pid)
        path = stack.state_path / f"jit_compiles.{server}.jfr"
        subprocess.run([jcmd, str(pid), "JFR.stop", f"name={RECORDING}"],  # a previous start's
                       capture_output=True, text=True)
        done = subprocess.run([jcmd, str(pid), "JFR.start", f"name={RECORDING}", f"settings={events}",
                               f"filename={path}"], capture_output=True, text=True)
        if done.returncode != 0 or "Started recording" not in done.stdout:
            print(f"{server}: JFR.start failed: {(done.stdout + done.stderr).strip()[:300]}", file=sys.stderr)
            continue
        recordings[server] = {"pid": pid, "file": str(path)}
    _state_file(stack).write_text(json.dumps({"recordings": recordings, "marks": [["start", time.time()]]}))
    print(f"recording compilations in {', '.join(recordings) or 'no JVM'}")


def mark(stack: StackSettings, label: str) -> None:
    state = _load_state(stack)
    state["marks"].append([label, time.time()])
    _state_file(stack).write_text(json.dumps(state))


def _load_state(stack: StackSettings) -> dict:
    try:
        return json.loads(_state_file(stack).read_text())
    except FileNotFoundError:
        raise SystemExit("no recording: run `python -m bench.stack.jit_compiles start` first") from None


def _events(stack: StackSettings, server: str, recording: dict) -> list[dict]:
    """The recording so far, dumped once: its compilation and deoptimization events."""
    subprocess.run([jdk_tool(stack, "jcmd", recording["pid"]), str(recording["pid"]), "JFR.dump", f"name={RECORDING}",
                    f"filename={recording['file']}"], capture_output=True, text=True)
    with tempfile.TemporaryFile("w+") as out:
        done = subprocess.run([jdk_tool(stack, "jfr", recording["pid"]), "print", "--json", "--events",
                               f"{COMPILATION},{DEOPTIMIZATION}", recording["file"]],
                              stdout=out, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0:
            print(f"{server}: jfr print failed: {done.stderr.strip()[:300]}", file=sys.stderr)
            return []
        out.seek(0)
        return json.load(out)["recording"]["events"]


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"PT(?:(\d+)M)?([\d.]+)S", duration)
    return (int(match.group(1) or 0) * 60 + float(match.group(2))) if match else 0.0


def _phase(marks: list[list], at: str) -> str:
    when = datetime.fromisoformat(at[:26].rstrip("Z") + "+00:00").timestamp()
    label = marks[0][0]
    for name, started in marks:
        if when >= started:
            label = name
    return label


def _method(values: dict) -> str:
    method = values["method"]
    return f"{method['type']['name'].replace('/', '.')}.{method['name']}"


@dataclass
class Phase:
    """What one JVM compiled between two marks: compile seconds per compiler, the C2 seconds per method
    compiled for the first time in the recording and per method compiled again, deoptimizations by reason."""

    compilers: Counter = field(default_factory=Counter)
    first: Counter = field(default_factory=Counter)
    again: Counter = field(default_factory=Counter)
    deoptimizations: Counter = field(default_factory=Counter)


def summarize(compilations: list[dict], deoptimizations: list[dict], marks: list[list]) -> dict[str, Phase]:
    """The recording's events (``jfr print --json`` form) per phase of ``marks``."""
    phases = {label: Phase() for label, _ in marks}
    seen_c2: set[str] = set()
    for event in sorted(compilations, key=lambda e: e["values"]["startTime"]):
        values = event["values"]
        phase = phases[_phase(marks, values["startTime"])]
        seconds = _seconds(values["duration"])
        phase.compilers[values["compiler"]] += seconds
        if values["compiler"] == "c2":
            method = _method(values)
            (phase.again if method in seen_c2 else phase.first)[method] += seconds
            seen_c2.add(method)
    for event in deoptimizations:
        values = event["values"]
        phases[_phase(marks, values["startTime"])].deoptimizations[values["reason"]] += 1
    return phases


def report(stack: StackSettings, servers: list[str], top: int) -> None:
    state = _load_state(stack)
    marks = state["marks"]
    for server, recording in sorted(state["recordings"].items()):
        if servers and server not in servers:
            continue
        events = _events(stack, server, recording)
        phases = summarize([e for e in events if e["type"] == COMPILATION],
                           [e for e in events if e["type"] == DEOPTIMIZATION], marks)
        print(f"== {server}")
        for label, phase in phases.items():
            print(f"  {label}: C1 {phase.compilers['c1']:.1f} s, C2 {phase.compilers['c2']:.1f} s (new methods "
                  f"{sum(phase.first.values()):.1f} s in {len(phase.first)}, compiled again "
                  f"{sum(phase.again.values()):.1f} s in {len(phase.again)}); deoptimizations "
                  f"{sum(phase.deoptimizations.values())}"
                  + "".join(f"{', ' if i else ': '}{reason} {n}"
                            for i, (reason, n) in enumerate(phase.deoptimizations.most_common(4))))
            for title, methods in (("new", phase.first), ("again", phase.again)):
                for method, seconds in methods.most_common(top):
                    print(f"      {title:5} {seconds:5.2f} s  {method[:140]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("start", help="start recording compilations in every JVM of the stack")
    marking = commands.add_parser("mark", help="begin the next phase")
    marking.add_argument("label")
    reporting = commands.add_parser("report", help="compilations per server and phase")
    reporting.add_argument("--server", action="append", default=[], help="only these servers (repeatable)")
    reporting.add_argument("--top", type=int, default=5, help="most expensive methods shown per phase and kind")
    args = parser.parse_args()
    stack = load_settings().stack
    if args.command == "start":
        start(stack)
    elif args.command == "mark":
        mark(stack, args.label)
    else:
        report(stack, args.server, args.top)


if __name__ == "__main__":
    main()
