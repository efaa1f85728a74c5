"""Figures of an end-to-end run: lag percentiles, sustained rates, the machine, Markdown and a plot."""

from __future__ import annotations

import math
from pathlib import Path

from testkit import results
from testkit.machine import LoadSampler, machine  # noqa: F401 - part of this module's interface
from testkit.results import PLACEHOLDER, RESULTS, ROOT  # noqa: F401 - part of this module's interface
from testkit.targets import percentile

PLOT = ROOT / "bench" / "e2e" / "e2e_latency.png"
START, END = results.markers("e2e")
GOAL_P99_S = 2.0


def lag_summary(log, changes: int, drain: float, *, poll_errors: int = 0) -> dict:
    """Percentiles over every change: never seen (pending, superseded) counts as infinite."""
    lags = [lag for _, lag in log.lags] + [math.inf] * (log.superseded + len(log.pending))
    out = {"changes": changes, "visible": len(log.lags), "superseded": log.superseded,
           "not_visible_after_drain": len(log.pending), "poll_errors": poll_errors}
    for name, q in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99), ("max", 1.0)):
        value = percentile(lags, q) if lags else math.inf
        out[f"{name}_ms"] = None if math.isinf(value) else round(value * 1000)
    out["kept_up"] = out["p99_ms"] is not None and out["p99_ms"] < GOAL_P99_S * 1000
    return out


def sustained(runs: list[dict]) -> dict[str, int | None]:
    """Per target: the highest rate given whose p99 < 2 s (and that the writers achieved within 5 %)."""
    best: dict[str, int | None] = {}
    for run in runs:
        for target, r in run["targets"].items():
            ok = r["kept_up"] and run["achieved_rate"] >= 0.95 * run["rate"]
            best.setdefault(target, None)
            if ok and (best[target] is None or run["rate"] > best[target]):
                best[target] = run["rate"]
    return best


def _ms(value: int | None, drain: str) -> str:
    return f"> {drain}" if value is None else f"{value:,}"


def markdown(summary: dict) -> str:
    m = summary["machine"]
    lines = [f"Run of {m['date']}: {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB, {m['system']}, "
             f"Python {m['python']}; load average at start {' / '.join(map(str, m['loadavg_at_start']))}.",
             f"Command: `{summary['command']}`"
             + (f" (each target read every {summary['runs'][0]['poll_interval_s']:g} s)"
                if summary["runs"] and "poll_interval_s" in summary["runs"][0] else ""), "",
             "| target | rate (achieved) | changes | p50 ms | p95 ms | p99 ms | max ms | not visible | "
             "load avg (min–max) | p99 < 2 s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for run in summary["runs"]:
        for target, r in run["targets"].items():
            name = run["group"][0] if target == "milvus" else target
            missing = r["superseded"] + r["not_visible_after_drain"]
            load = run["loadavg"]
            lines.append(f"| {name} | {run['rate']:,}/s ({run['achieved_rate']:,.0f}) | {r['changes']:,} | "
                         f"{_ms(r['p50_ms'], 'drain')} | {_ms(r['p95_ms'], 'drain')} | {_ms(r['p99_ms'], 'drain')} | "
                         f"{_ms(r['max_ms'], 'drain')} | {missing:,} | {load['min']}–{load['max']} | "
                         f"{'yes' if r['kept_up'] else 'no'} |")
    best = ", ".join(f"{t} {'none of the rates' if v is None else f'{v:,}/s'}"
                     for t, v in summary["sustained"].items())
    lines += ["", f"Highest rate sustained with p99 < 2 s (of the rates run): {best}."]
    lines += cpu_markdown(summary)
    return "\n".join(lines)


BENCH_COMPONENT = "benchmark"
READS_OF = "the benchmark's reads of "
"""Prefix of a server's share spent answering the benchmark's pollers (replayed after the rate)."""


def _benchmarks(name: str) -> bool:
    """The benchmark's own CPU (its writers and pollers) and what its reads cost a server."""
    return name == BENCH_COMPONENT or name.startswith(READS_OF)


def cpu_budget(run: dict, cores: int) -> dict | None:
    """Per component: CPU seconds, mean cores and µs per change net of its idle burn; and the rate
    the pipeline (everything but the benchmark's own writers and pollers) would reach if it had the
    machine's cores to itself at this cost per change: (cores − idle) / Σ µs per change."""
    cpu = run.get("cpu")
    if not cpu or not run["changes"]:
        return None
    wall, idle = cpu["wall_s"], cpu.get("idle_per_second", {})
    reads = {server: r["cpu_s"] for server, r in cpu.get("readers", {}).items()}
    rows = {}
    for name, seconds in sorted(cpu["seconds"].items(), key=lambda kv: -kv[1]):
        net = max(0.0, seconds - idle.get(name, 0.0) * wall - reads.get(name, 0.0))
        rows[name] = {"cpu_s": seconds, "cores": round(seconds / wall, 2),
                      "us_per_change": round(net / run["changes"] * 1e6)}
    for server, seconds in reads.items():
        rows[f"{READS_OF}{server}"] = {"cpu_s": seconds, "cores": round(seconds / wall, 2),
                                       "us_per_change": round(seconds / run["changes"] * 1e6)}
    pipeline_us = sum(r["us_per_change"] for n, r in rows.items() if not _benchmarks(n))
    idle_cores = sum(v for n, v in idle.items() if not _benchmarks(n))
    ceiling = (cores - idle_cores) / pipeline_us * 1e6 if pipeline_us else None
    return {"components": rows, "pipeline_us_per_change": pipeline_us, "idle_cores": round(idle_cores, 2),
            "ceiling_per_s": None if ceiling is None else round(ceiling)}


def cpu_markdown(summary: dict) -> list[str]:
    """One column per rate: each component's µs of CPU per change (net of idle) and mean cores."""
    budgets = [(run, cpu_budget(run, summary["machine"]["cores"])) for run in summary["runs"]]
    budgets = [(run, b) for run, b in budgets if b]
    if not budgets:
        return []
    names = list(dict.fromkeys(n for _, b in budgets for n in b["components"]))
    head = " | ".join(f"{', '.join(run['group'])} at {run['rate']:,}/s ({run['achieved_rate']:,.0f})"
                      for run, _ in budgets)
    lines = ["", "CPU per change, net of each component's idle burn (µs), and mean cores used, from `/proc` "
             "over each rate's load and drain; a server's row is also net of what the benchmark's reads cost it, "
             "measured by replaying those reads after the rate (the rows \"the benchmark's reads of …\", a lower "
             "bound: the reads met busier caches during the load):", "", f"| component | {head} |",
             "|---|" + "---|" * len(budgets)]
    for name in names:
        cells = [b["components"].get(name) for _, b in budgets]
        lines.append(f"| {name} | " + " | ".join("–" if c is None else f"{c['us_per_change']:,} µs ({c['cores']})"
                                                for c in cells) + " |")
    lines.append("| **pipeline** (all but the benchmark) | " + " | ".join(
        f"**{b['pipeline_us_per_change']:,} µs**" for _, b in budgets) + " |")
    lines.append("| idle burn of the pipeline (cores) | " + " | ".join(str(b["idle_cores"]) for _, b in budgets) + " |")
    lines.append(f"| rate {summary['machine']['cores']} cores would carry at this cost | " + " | ".join(
        "–" if b["ceiling_per_s"] is None else f"{b['ceiling_per_s']:,}/s" for _, b in budgets) + " |")
    return lines


def write_results(path: Path, summary: dict) -> None:
    """Add this run's block between the section's markers (the placeholder goes)."""
    results.add_block(path, "e2e", markdown(summary), section="End to end (issue 10)")


def plot(summary: dict, path: Path) -> None:
    """Per target: p50/p95/p99 against the rate, log scale, the 2 s line."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no plot: matplotlib is not installed (it is in the dev extra: pip install -e '.[dev]')")
        return
    order = ("search", "neo4j", "redis", "milvus")
    targets = [t for t in order if any(t in run["targets"] for run in summary["runs"])]
    names = {t: run["group"][0] for run in summary["runs"] for t in run["targets"] if t == "milvus"}
    fig, axes = plt.subplots(1, len(targets), figsize=(4 * len(targets), 3.6), sharey=True, squeeze=False)
    for ax, target in zip(axes[0], targets):
        rows = [(run["rate"], run["targets"][target]) for run in summary["runs"] if target in run["targets"]]
        for key, style in (("p50_ms", "o-"), ("p95_ms", "s--"), ("p99_ms", "^-")):
            points = [(rate, r[key] / 1000) for rate, r in rows if r[key] is not None]
            if points:
                ax.plot(*zip(*points), style, label=key[:3])
        ax.axhline(GOAL_P99_S, color="red", linewidth=0.8, label="2 s")
        ax.set(xscale="log", yscale="log", title=names.get(target, target), xlabel="changes/s")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("commit → visible (s)")
    handles = {h.get_label(): h for ax in axes[0] for h in ax.get_lines()}
    fig.legend(list(handles.values()), list(handles), loc="upper right", fontsize=8)
    fig.suptitle(f"End to end, {summary['machine']['cores']} cores, {summary['machine']['date']}")
    fig.tight_layout(rect=(0, 0, 0.95, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    print(f"plot written to {path}")
