"""The suite's results: one row per fault, a Markdown table for bench/RESULTS.md ("Fault injection")."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from testkit import results

SECTION = "Fault injection (issue 10)"


class FaultResult(BaseModel):
    fault: str
    rate: float                 # changes/s asked for
    achieved: float             # changes/s committed (PostgreSQL restarts lose some)
    changes: int                # committed during the scenario
    write_errors: int = 0       # changes that failed (database away)
    fault_seconds: float        # fault start → fault end
    lost: int = 0
    stale: int = 0
    extra: int = 0
    lsn_mismatch: int = 0
    dead_letters: int = 0
    expected_dead_letters: int = 0
    convergence_seconds: float | None = None  # fault end → clean check; None: never within the timeout
    check_seconds: float = 0.0  # how long that last check took (the resolution of the figure above)
    per_target: dict[str, float] = {}  # fault end → each target's first check of its final clean streak
    restarts: int = 0           # sink processes the supervisor restarted
    loadavg: dict[str, float] = {}  # 1-minute load average during the scenario: min, mean, max
    passed: bool = False
    detail: str = ""


def _seconds(value: float | None, timeout: float, check: float) -> str:
    return f"> {timeout:.0f} (not converged)" if value is None else f"{value:.1f} (check {check:.1f})"


def _targets(per_target: dict[str, float]) -> str:
    return ", ".join(f"{t} {s:.1f}" for t, s in per_target.items()) or "–"


def _load(load: dict[str, float]) -> str:
    return f"{load['min']}–{load['max']}" if load else "?"


def markdown(rows: list[FaultResult], *, machine: dict, duration: float, command: str, goal: float,
             timeout: float) -> str:
    passed = sum(r.passed for r in rows)
    lines = [f"Run of {machine['date']}: {machine['cores']} cores ({machine['cpu']}), {machine['memory_gb']} GB, "
             f"{machine['system']}, Python {machine['python']}; load average at start "
             f"{' / '.join(map(str, machine['loadavg_at_start']))}. Command: `{command}`; whole suite "
             f"{duration / 60:.1f} min; {passed} of {len(rows)} faults passed.", "",
             "| fault | load (achieved) | changes | lost / stale / extra | LSN mismatch | DLQ (expected) | "
             f"fault s | convergence s | per target s | sink restarts | load avg | pass (≤ {goal:.0f} s, zero drift) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        errors = f", {r.write_errors} failed" if r.write_errors else ""
        lines.append(f"| {r.fault} | {r.rate:.0f}/s ({r.achieved:.1f}) | {r.changes:,}{errors} | "
                     f"{r.lost} / {r.stale} / {r.extra} | {r.lsn_mismatch} | {r.dead_letters} ({r.expected_dead_letters}) | "
                     f"{r.fault_seconds:.1f} | {_seconds(r.convergence_seconds, timeout, r.check_seconds)} | "
                     f"{_targets(r.per_target)} | {r.restarts} | "
                     f"{_load(r.loadavg)} | {'pass' if r.passed else 'FAIL'} |")
    failed = [r for r in rows if not r.passed]
    if failed:
        lines += ["", "Failures:"] + [f"* {r.fault}: {r.detail}" for r in failed]
    return "\n".join(lines)


def write(path: Path, block: str) -> None:
    results.add_block(path, "faults", block, section=SECTION)
