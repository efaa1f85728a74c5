"""What a local-stack service is: how to check it is installed, prepare, start and probe it.

Adding a server to the stack means writing one ``Service`` subclass and listing it in
``devstack.registry``; the manager does the rest (pid files, logs, timeouts, status).
"""

from __future__ import annotations

import os
import signal
import socket
from abc import ABC, abstractmethod
from pathlib import Path

from aegis.errors import ErrorCode, StackError
from aegis.settings import Settings


class Service(ABC):
    """One server process of the local stack."""

    name: str = ""
    stop_signal: int = signal.SIGTERM
    stop_group: str | None = None
    compiled_while_running: bool = False
    """Its code is compiled by a JIT while it serves (a JVM): requests run slower, and compete with the
    compiler for the CPU, until the hot paths are compiled (``aegis stack warm-up``)."""
    """Services listed next to each other with the same stop group are stopped together (signalled
    at once, then awaited): a member that cannot stop cleanly once its peers are gone (a KRaft node
    without its quorum) is never the last one left."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.root = settings.stack.state_path

    @property
    @abstractmethod
    def port(self) -> int: ...

    @property
    def dir(self) -> Path:
        return self.root / self.name

    @property
    def log_path(self) -> Path:
        return self.root / "logs" / f"{self.name}.log"

    @property
    def run_as(self) -> str | None:
        """OS user to run the process as (None: the current user)."""
        return None

    def in_default_set(self) -> bool:
        """Whether ``aegis stack up`` without names starts it (optional servers say when)."""
        return True

    @abstractmethod
    def check_installed(self) -> None:
        """Raise ``StackError`` (DP_5003) naming what is missing and how to install it."""

    def prepare(self) -> None:
        """One-time, idempotent set-up before start (data directories, config files)."""
        self.dir.mkdir(parents=True, exist_ok=True)

    @abstractmethod
    def command(self) -> list[str]: ...

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    @abstractmethod
    def probe(self) -> bool:
        """Fast readiness check: True when the service answers as it should."""

    def probe_started(self) -> bool:
        """Whether a start (or an ``up`` of a running server) may go on to the next service.

        Usually ``probe()``; a member of a group that cannot serve until later members run (a KRaft
        quorum) says "started" earlier, and ``probe()`` stays the honest health check of ``status``.
        """
        return self.probe()

    def start_detail(self) -> str:
        """What the start message adds about how it starts ("" for most)."""
        return ""

    def stop_timeout(self, configured: float) -> float:
        """How long a clean stop may take (AEGIS_STACK_STOP_TIMEOUT_SECONDS, unless it must write more)."""
        return configured

    def after_stop(self, stopped_cleanly: bool) -> str | None:
        """Work once the process is gone; returns what to report, if anything."""
        return None

    def bootstrap(self) -> None:  # noqa: B027 - an optional hook: most services need no set-up once healthy
        """Idempotent work once healthy (roles, databases, topics)."""

    def missing(self, what: str, hint: str) -> StackError:
        return StackError(f"{self.name}: {what} not found", code=ErrorCode.STACK_DEPENDENCY_MISSING, hint=hint)


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
