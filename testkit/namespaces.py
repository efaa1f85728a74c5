"""A run's own corner of every target, and its own consumer groups (tests, benchmarks, fault suite).

The sinks' specs declare which setting names a target's corner and its template
(``SinkSpec.namespace_setting``, ``namespace_template``); these helpers turn a namespace into the
environment a settings tree or an ``aegis`` process reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from aegis.errors import ConfigError
from cdc_sinks.registry import sink_names, spec_of
from cdc_sinks.spec import SinkSpec

NAMESPACE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
"""A run namespace valid in every target's naming rules (index, key prefix, label, collection)."""


def spec_env(spec: SinkSpec, namespace: str) -> dict[str, str]:
    """Environment giving run ``namespace`` its own empty corner of ``spec``'s target."""
    if not NAMESPACE_PATTERN.match(namespace):
        raise ConfigError(f"namespace {namespace!r} is not valid for every target",
                          hint="use lower-case letters, digits and underscores, starting with a letter")
    return spec.namespace_variables(namespace)


def namespace_env(namespace: str, names: list[str] | None = None) -> dict[str, str]:
    """Environment giving run ``namespace`` its own corner of every target in ``names`` (default all)."""
    env: dict[str, str] = {}
    for name in names or sink_names():
        env.update(spec_env(spec_of(name), namespace))
    return env


def run_env(ns: str, sinks: Iterable[str], prefix: str = "bench") -> dict[str, str]:
    """Environment giving ``sinks`` their own consumer groups and target names for run ``ns``
    (and no fixed /metrics port, so several runs can share the machine)."""
    return {"SINKS_GROUP_ID_PREFIX": f"{prefix}-{ns}-", "METRICS_PORT": "0",
            **namespace_env(f"{prefix}_{ns}".lower(), list(sinks))}
