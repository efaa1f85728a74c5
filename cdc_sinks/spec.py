"""What the project knows about one sink, in one place: its ``SinkSpec``.

Each sink folder (``cdc_sinks/<name>/``) has the same files: ``sink.py`` (the ``Sink``),
``errors.py`` (its driver's exceptions translated into ``aegis.errors``) and ``spec.py`` (its
``SPEC``). The registry (``cdc_sinks.registry``) lists the specs; the runtime, the reconciler, the
conformance suite, the benchmarks and the fault suite take the sink list and each sink's
capabilities and namespace settings from there. Spec modules import no driver: the sink itself is
imported only when it is built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING

from aegis.settings import Settings

if TYPE_CHECKING:
    from cdc_sinks.base import Sink


@dataclass(frozen=True)
class SinkSpec:
    """One sink's declared capabilities and settings."""

    name: str
    """Registry name = folder = ``aegis sinks run NAME`` = the sink's ``name``."""
    store: str
    """The target store, for people (``aegis sinks list``)."""
    builder: str
    """``module:function`` taking the ``Settings`` tree and returning the ``Sink``."""
    stack_service: str
    """The ``aegis stack`` service the target runs as locally (outage tests stop and start it)."""
    namespace_setting: str
    """The setting that gives a run its own corner of the target (tests, benchmarks)."""
    namespace_template: str
    """Its value for a namespace ``ns``: ``{ns}`` is replaced (``namespace_variables``)."""
    checksums_on_server: bool
    """The target computes range checksums itself; else the sink computes them from a lean read."""
    batch_size: Callable[[Settings], int] | None = None
    """This sink's own micro-batch (instead of ``SINKS_BATCH_SIZE``), read from the settings."""
    nice: Callable[[Settings], int] | None = None
    """How far the sink's own process lowers its CPU priority (a CPU-bound sink yields to the others)."""

    def build(self, settings: Settings) -> Sink:
        module_name, _, attr = self.builder.partition(":")
        return getattr(import_module(module_name), attr)(settings)

    def namespace_variables(self, namespace: str) -> dict[str, str]:
        """The setting (as its environment variable) that gives ``namespace`` its own corner of the target."""
        return {self.namespace_setting: self.namespace_template.format(ns=namespace)}

    def micro_batch(self, settings: Settings) -> int:
        return self.batch_size(settings) if self.batch_size else settings.sinks.batch_size
