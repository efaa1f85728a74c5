"""The monitoring files: Prometheus config and alert rules parse, every PromQL expression is valid
(promql-parser; promtool is not installable here without compiling Prometheus), and every metric
they use is one our processes actually export."""

from __future__ import annotations

import json
from pathlib import Path

import promql_parser
import pytest
import yaml
from prometheus_client import REGISTRY, CollectorRegistry

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"


def _alert_exprs() -> list[str]:
    rules = yaml.safe_load((MONITORING / "prometheus" / "alerts.yml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads((MONITORING / "grafana" / "dashboards" / "aegis-sync.json").read_text())
    return [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]


def _metric_names(node) -> set[str]:
    """Names of every vector selector in a parsed PromQL expression."""
    names: set[str] = set()
    if type(node).__name__ == "VectorSelector" and getattr(node, "name", None):
        names.add(node.name)
    for attr in ("lhs", "rhs", "expr", "vector_selector", "param"):
        child = getattr(node, attr, None)
        if child is not None and not isinstance(child, (str, int, float)):
            names |= _metric_names(child)
    for child in getattr(node, "args", None) or []:
        names |= _metric_names(child)
    return names


def _exported(registry: CollectorRegistry) -> set[str]:
    names = set()
    for family in registry.collect():
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}.get(family.type, [""])
        names |= {family.name + s for s in suffixes}
    return names


@pytest.fixture(scope="module")
def exported_metrics() -> set[str]:
    import collectors.metrics  # noqa: F401 - registers the collection metrics in the default registry
    from console.ops.exporter import PipelineExporter
    from aegis.settings import load_settings
    from cdc_sinks.observability import SinkMetrics

    from reconciler.metrics import ReconcileMetrics

    names = _exported(REGISTRY) | _exported(SinkMetrics("conformance-check").registry)
    names |= _exported(ReconcileMetrics(["redis"], 3600).registry)
    return names | _exported(PipelineExporter(load_settings(env_file=None)).registry)


def test_prometheus_config_loads_the_alert_rules():
    config = yaml.safe_load((MONITORING / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    assert {job["job_name"] for job in config["scrape_configs"]} >= {"aegis-sinks", "aegis-collector"}


@pytest.mark.parametrize("expr", _alert_exprs() + _dashboard_exprs())
def test_every_expression_is_valid_promql(expr):
    promql_parser.parse(expr)


def test_an_invalid_expression_is_caught():
    with pytest.raises(ValueError):
        promql_parser.parse("rate(data_collection_total[5m]")


def test_seed_alerts_and_the_extra_ones_exist():
    rules = yaml.safe_load((MONITORING / "prometheus" / "alerts.yml").read_text())
    names = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    assert {"DataCollectionFailed", "PipelineLagHigh", "DataQualityLow",
            "ReplicationSlotLagHigh", "DeadLettersGrowing"} <= names


def test_every_metric_used_is_exported(exported_metrics):
    used = set()
    for expr in _alert_exprs() + _dashboard_exprs():
        used |= _metric_names(promql_parser.parse(expr))
    assert used, "no metric found: the expression walker is broken"
    missing = used - exported_metrics
    assert not missing, f"used by alerts/dashboard but exported by no process: {sorted(missing)}"


def test_dashboard_has_the_seed_panels():
    dashboard = json.loads((MONITORING / "grafana" / "dashboards" / "aegis-sync.json").read_text())
    titles = {p["title"] for p in dashboard["panels"]}
    assert {"Data Collection Rate", "Pipeline Processing Latency (p50, p95, p99)", "Data Quality Score",
            "DB Sync Success Rate"} <= titles
    assert any("lag" in t.lower() for t in titles)
