"""Prometheus from Debian's package: the local stack's monitoring (docs/monitoring.md).

It evaluates the repository's ``monitoring/prometheus/alerts.yml`` and scrapes, through file-based
service discovery, the processes that register themselves in ``<state>/prometheus/targets/``:
`aegis run` writes one file per job (sinks, collector, reconciler, pipeline exporter) with the
ports it gives its processes, and Prometheus picks them up within seconds, whether it started
before or after them. The job names are those of ``monitoring/prometheus/prometheus.yml`` (compose),
so the alert rules see the same ``job`` labels in both.

Optional in the stack: ``aegis stack up`` starts it when ``AEGIS_STACK_PROMETHEUS=true`` or when it
is named (``aegis stack up prometheus``). ``AEGIS_STACK_PROMETHEUS_RULE_INTERVAL_SECONDS`` and
``AEGIS_STACK_PROMETHEUS_ALERT_FOR_MAX_SECONDS`` shorten the rules' evaluation interval and ``for`` in the copy
it loads (tests, demos); unset, the rules are loaded as written.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import httpx
import yaml

from aegis.errors import StackError
from aegis.settings import Settings
from devstack.base import Service

JOBS = ("aegis-sinks", "aegis-collector", "aegis-reconciler", "aegis-pipeline", "aegis-connector-watchdog")
"""Scrape jobs, as named in monitoring/prometheus/prometheus.yml."""

RULES = Path(__file__).resolve().parents[1] / "monitoring" / "prometheus" / "alerts.yml"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def duration_seconds(text: str) -> float:
    """A Prometheus duration (``1h30m``, ``5m``, ``30s``) in seconds."""
    parts = _DURATION.findall(str(text))
    if not parts or "".join(n + u for n, u in parts) != str(text):
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)


def _seconds(value: float) -> str:
    return f"{max(int(value * 1000), 1)}ms"


def targets_dir(settings: Settings) -> Path:
    return settings.stack.state_path / "prometheus" / "targets"


def write_scrape_targets(settings: Settings, jobs: dict[str, list[str]]) -> None:
    """Register ``host:port`` targets per job (replacing that job's previous ones)."""
    directory = targets_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    for job, targets in jobs.items():
        if job not in JOBS:
            raise ValueError(f"unknown scrape job {job!r}; known: {', '.join(JOBS)}")
        path = directory / f"{job}.json"
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps([{"targets": targets, "labels": {}}]))
        partial.replace(path)


def render_rules(settings: Settings, source: Path = RULES) -> dict:
    """alerts.yml with the local overrides (evaluation interval, longest ``for``) applied."""
    rules = yaml.safe_load(source.read_text(encoding="utf-8"))
    config = settings.stack
    for group in rules["groups"]:
        if config.prometheus_rule_interval_seconds is not None:
            group["interval"] = _seconds(config.prometheus_rule_interval_seconds)
        for rule in group["rules"]:
            limit = config.prometheus_alert_for_max_seconds
            if limit is not None and "for" in rule and duration_seconds(rule["for"]) > limit:
                rule["for"] = _seconds(limit)
    return rules


def render_config(settings: Settings, rules_file: Path) -> dict:
    config = settings.stack
    interval = _seconds(config.prometheus_scrape_interval_seconds)
    jobs = [{"job_name": "prometheus", "static_configs": [{"targets": [f"127.0.0.1:{config.prometheus_port}"]}]}]
    jobs += [{"job_name": job, "file_sd_configs": [{"files": [str(targets_dir(settings) / f"{job}.json")],
                                                    "refresh_interval": "5s"}]} for job in JOBS]
    timeout = _seconds(min(config.prometheus_scrape_interval_seconds, 10))
    return {"global": {"scrape_interval": interval, "scrape_timeout": timeout,
                       "evaluation_interval": _seconds(config.prometheus_rule_interval_seconds or 30)},
            "rule_files": [str(rules_file)], "scrape_configs": jobs}


class Prometheus(Service):
    name = "prometheus"

    @property
    def port(self) -> int:
        return self.settings.stack.prometheus_port

    def in_default_set(self) -> bool:
        return self.settings.stack.prometheus

    def check_installed(self) -> None:
        if not shutil.which("prometheus"):
            raise self.missing("`prometheus`", "run `make install` (installs the Debian package prometheus)")
        if not RULES.exists():
            raise StackError(f"prometheus: the alert rules {RULES} are missing",
                             hint="the local Prometheus runs from a checkout of the repository")

    @property
    def config_path(self) -> Path:
        return self.dir / "prometheus.yml"

    def prepare(self) -> None:
        super().prepare()
        targets_dir(self.settings).mkdir(parents=True, exist_ok=True)
        rules_file = self.dir / "alerts.yml"
        rules_file.write_text(yaml.safe_dump(render_rules(self.settings), sort_keys=False, allow_unicode=True))
        self.config_path.write_text(yaml.safe_dump(render_config(self.settings, rules_file), sort_keys=False))

    def command(self) -> list[str]:
        return ["prometheus", f"--config.file={self.config_path}", f"--storage.tsdb.path={self.dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                f"--storage.tsdb.retention.time={self.settings.stack.prometheus_retention}"]

    def probe(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False
