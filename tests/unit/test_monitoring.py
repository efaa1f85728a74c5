"""The monitoring files: the alert rules pass `promtool` (syntax and their unit tests, with a firing
case for every rule), the Prometheus configs load, and every metric, label and label value an alert
or the dashboard selects is one the code exports — taken from the metrics each process registers at
start (every series an alert selects is created there, at 0)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import promql_parser
import pytest
import yaml
from prometheus_client import REGISTRY, CollectorRegistry

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
ALERTS = MONITORING / "prometheus" / "alerts.yml"
ALERT_TESTS = MONITORING / "prometheus" / "alerts.test.yml"
PROMETHEUS_LABELS = {"job", "instance"}  # added by Prometheus to every scraped series
PROMETHEUS_METRICS = {"up": {"job", "instance"}}  # series Prometheus writes itself


def _rules() -> list[dict]:
    rules = yaml.safe_load(ALERTS.read_text())
    return [rule for group in rules["groups"] for rule in group["rules"]]


def _alert_exprs() -> list[str]:
    return [rule["expr"] for rule in _rules()]


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads((MONITORING / "grafana" / "dashboards" / "aegis-sync.json").read_text())
    return [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found: `make install` installs the Debian package prometheus")
    return path


# ---- what the code exports ------------------------------------------------------------------------

@dataclass
class Exported:
    """Series names, with their label names and the label values seen, from real registries."""

    labels: dict[str, set[str]] = field(default_factory=dict)
    values: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    def add(self, registry: CollectorRegistry) -> None:
        for collector in list(registry._collector_to_names):  # noqa: SLF001 - label names of unset metrics too
            names = registry._collector_to_names[collector]  # noqa: SLF001
            label_names = set(getattr(collector, "_labelnames", ()))
            for name in names:
                self.labels.setdefault(name, set()).update(label_names)
        for family in registry.collect():
            for sample in family.samples:
                self.labels.setdefault(sample.name, set()).update(sample.labels)
                for label, value in sample.labels.items():
                    self.values.setdefault((sample.name, label), set()).add(value)


@pytest.fixture(scope="module")
def exported() -> Exported:
    """Every metrics owner set up as its process sets it up at start."""
    from aegis.settings import load_settings
    from cdc_sinks.observability import SinkMetrics
    from cdc_sinks.registry import sink_names
    from collectors import metrics as collector_metrics
    from collectors.sources.registry import all_source_names
    from connectors.watchdog import WatchdogMetrics
    from console.ops.exporter import PipelineExporter
    from reconciler.metrics import ReconcileMetrics

    settings = load_settings(env_file=None)
    collector_metrics.init_sources(all_source_names(settings))
    found = Exported()
    found.add(REGISTRY)
    for sink in sink_names():
        found.add(SinkMetrics(sink).registry)
    found.add(ReconcileMetrics(sink_names(), settings.reconciler.interval).registry)
    found.add(WatchdogMetrics(settings.connector.name).registry)
    found.add(PipelineExporter(settings).registry)
    for name, labels in PROMETHEUS_METRICS.items():
        found.labels[name] = labels
    from devstack.prometheus import JOBS

    found.values[("up", "job")] = set(JOBS) | {"prometheus"}
    return found


# ---- what the expressions select ----------------------------------------------------------------

@dataclass(frozen=True)
class Selector:
    metric: str
    matchers: tuple[tuple[str, str, str], ...]  # (label, op, value)


def _selectors(node) -> list[Selector]:
    found: list[Selector] = []
    if type(node).__name__ == "VectorSelector" and getattr(node, "name", None):
        ops = {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}
        matchers = tuple((m.name, ops[str(m.op).rsplit(".", 1)[-1]], m.value) for m in node.matchers.matchers
                         if m.name != "__name__")
        found.append(Selector(node.name, matchers))
    for attr in ("lhs", "rhs", "expr", "vector_selector", "param"):
        child = getattr(node, attr, None)
        if child is not None and not isinstance(child, (str, int, float)):
            found += _selectors(child)
    for child in getattr(node, "args", None) or []:
        found += _selectors(child)
    return found


def problems_with(expr: str, exported: Exported) -> list[str]:
    """What in ``expr`` no code exports: a metric, a label, or a label value it selects."""
    problems = []
    for s in _selectors(promql_parser.parse(expr)):
        if s.metric not in exported.labels:
            problems.append(f"{s.metric}: no process exports this metric")
            continue
        for label, op, value in s.matchers:
            if label not in exported.labels[s.metric] | PROMETHEUS_LABELS:
                problems.append(f"{s.metric}{{{label}}}: the metric has no label {label!r}")
                continue
            if label == "instance":
                continue
            seen = exported.values.get((s.metric, label))
            if not seen:
                problems.append(f'{s.metric}{{{label}{op}"{value}"}}: no series of it exists at start, so the value '
                                "cannot be checked (create the series at 0 where the metric is defined)")
            elif op in ("=", "!=") and value not in seen:
                problems.append(f'{s.metric}{{{label}{op}"{value}"}}: the code exports {label} only as {sorted(seen)}')
            elif op in ("=~", "!~") and not any(re.fullmatch(value, v) for v in seen):
                problems.append(f'{s.metric}{{{label}{op}"{value}"}}: matches none of {sorted(seen)}')
    return problems


# ---- the tests -----------------------------------------------------------------------------------

def test_promtool_accepts_the_rules():
    result = subprocess.run([_promtool(), "check", "rules", str(ALERTS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_passes_its_promtool_unit_tests():
    result = subprocess.run([_promtool(), "test", "rules", ALERT_TESTS.name], capture_output=True, text=True,
                            cwd=ALERT_TESTS.parent)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_has_a_test_case_where_it_fires():
    tests = yaml.safe_load(ALERT_TESTS.read_text())
    firing = {case["alertname"] for test in tests["tests"] for case in test.get("alert_rule_test", [])
              if case.get("exp_alerts")}
    rules = {rule["alert"] for rule in _rules()}
    assert rules - firing == set(), f"rules never shown firing in {ALERT_TESTS.name}"
    assert firing - rules == set(), "tests of rules that do not exist"


def test_the_prometheus_configs_load(tmp_path: Path):
    from aegis.settings import load_settings
    from devstack.prometheus import JOBS, render_config, render_rules

    compose = subprocess.run([_promtool(), "check", "config", "--syntax-only",
                              str(MONITORING / "prometheus" / "prometheus.yml")], capture_output=True, text=True)
    assert compose.returncode == 0, compose.stdout + compose.stderr
    compose_jobs = {job["job_name"] for job in yaml.safe_load((MONITORING / "prometheus" / "prometheus.yml")
                                                               .read_text())["scrape_configs"]}
    assert compose_jobs >= set(JOBS) | {"prometheus"}  # the same job names as the local stack's

    settings = load_settings(env_file=None)
    rules = tmp_path / "alerts.yml"
    rules.write_text(yaml.safe_dump(render_rules(settings)))
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(render_config(settings, rules)))
    native = subprocess.run([_promtool(), "check", "config", str(config)], capture_output=True, text=True)
    assert native.returncode == 0, native.stdout + native.stderr


def test_the_local_overrides_shorten_for_and_interval_only(monkeypatch):
    from aegis.settings import load_settings
    from devstack.prometheus import render_rules

    monkeypatch.setenv("PROMETHEUS_ALERT_FOR_MAX_SECONDS", "10")
    monkeypatch.setenv("PROMETHEUS_RULE_INTERVAL_SECONDS", "5")
    rendered = [r for g in render_rules(load_settings(env_file=None))["groups"] for r in g["rules"]]
    assert [r["expr"] for r in rendered] == _alert_exprs()
    assert {r.get("for") for r in rendered} <= {None, "10000ms"}


@pytest.mark.parametrize("expr", _alert_exprs() + _dashboard_exprs())
def test_every_expression_is_valid_promql(expr):
    promql_parser.parse(expr)


@pytest.mark.parametrize("expr", _alert_exprs() + _dashboard_exprs())
def test_every_metric_label_and_value_selected_is_exported(expr, exported):
    assert problems_with(expr, exported) == []


def test_a_label_value_no_code_exports_is_caught(exported):
    """The DataCollectionFailed alert once selected status="error"; the collector says "failure"."""
    problems = problems_with('rate(data_collection_total{status="error"}[5m])', exported)
    assert problems == ["data_collection_total{status=\"error\"}: the code exports status only as "
                        "['failure', 'success']"]
    assert problems_with("rate(data_collection_totals[5m])", exported) == [
        "data_collection_totals: no process exports this metric"]
    assert problems_with('sink_paused{target="redis"}', exported) == [
        "sink_paused{target}: the metric has no label 'target'"]
    assert problems_with('up{job="aegis-sink"}', exported)


def test_seed_alerts_and_the_operators_ones_exist():
    names = {rule["alert"] for rule in _rules()}
    assert {"DataCollectionFailed", "PipelineLagHigh", "DataQualityLow"} <= names  # seed §9.2
    assert {"TargetUnreachable", "SinkNotProgressing", "DeadLettersGrowing", "ReplicationSlotWalRetained",
            "ReconcilePassOverdue", "ReconcilePassFailed", "ReconcileDriftFound", "ConnectorTaskFailed",
            "CollectorSourceFailing", "CollectorQuotaExhausted", "MetricAbsent", "AegisProcessDown"} <= names


def test_every_alert_says_what_and_how_bad():
    for rule in _rules():
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]


def test_dashboard_has_the_seed_panels():
    dashboard = json.loads((MONITORING / "grafana" / "dashboards" / "aegis-sync.json").read_text())
    titles = {p["title"] for p in dashboard["panels"]}
    assert {"Data Collection Rate", "Pipeline Processing Latency (p50, p95, p99)", "Data Quality Score",
            "DB Sync Success Rate"} <= titles
    assert any("lag" in t.lower() for t in titles)
