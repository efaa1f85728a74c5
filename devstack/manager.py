"""Start, stop and inspect the local stack's services, in dependency order."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from aegis.errors import StackError
from aegis.settings import Settings
from devstack.base import Service
from devstack.process import PidFile, stop_process_group, stop_process_groups, tail
from devstack.registry import build_services

Progress = Callable[[str], None]

START_ATTEMPTS = 2
"""A server that exits during start-up is started once more (seen: Kafka 4.3's controller can hit a
start-up race and terminate on a heavily loaded machine); a timeout is not retried."""


class ServiceExitedEarly(StackError):
    """The process ended before it was healthy."""


@dataclass
class ServiceStatus:
    name: str
    pid: int | None
    port: int
    healthy: bool
    log: str

    def to_dict(self) -> dict:
        return asdict(self)


class StackManager:
    def __init__(self, settings: Settings, services: list[Service] | None = None):
        self.settings = settings
        self.services = services if services is not None else build_services(settings)

    def _pidfile(self, service: Service) -> PidFile:
        return PidFile(self.settings.stack.state_path / "pids" / f"{service.name}.pid")

    def pid(self, service: Service) -> int | None:
        """The pid of ``service`` if the process this stack started for it still runs (no health probe)."""
        return self._pidfile(service).read_live_pid()

    def select(self, names: list[str] | None, *, optional: bool = False) -> list[Service]:
        """The named services, or without names the default set (plus optional ones if ``optional``)."""
        if not names:
            return [s for s in self.services if optional or s.in_default_set()]
        known = {s.name: s for s in self.services}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise StackError(f"unknown service(s): {', '.join(unknown)}",
                             hint=f"known services: {', '.join(known)}")
        return [s for s in self.services if s.name in names]

    def up(self, names: list[str] | None = None, progress: Progress = lambda _: None) -> list[ServiceStatus]:
        """Start every selected service not already running; leave running ones alone."""
        for service in self.select(names):
            pid = self.pid(service)
            if pid is not None:
                self._wait_healthy(service, pid, proc=None)
                try:  # idempotent: a server started by an older version gets what this one needs (roles)
                    service.bootstrap()
                except Exception as exc:  # noqa: BLE001 - reported with the log, as at a start
                    raise self._failure(service, f"is running but its set-up failed: {exc}") from None
                progress(f"{service.name}: already running (pid {pid})")
                continue
            started = time.monotonic()
            detail = service.start_detail()
            progress(f"{service.name}: starting on port {service.port}{f' ({detail})' if detail else ''} ...")
            pid = self._start_with_retry(service, progress)
            state = "healthy" if service.probe() else "started (healthy once the rest of its group runs)"
            progress(f"{service.name}: {state} in {time.monotonic() - started:.1f}s (pid {pid})")
        return self.status(names)

    def _start_with_retry(self, service: Service, progress: Progress) -> int:
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                return self._start(service)
            except ServiceExitedEarly as exc:
                if attempt == START_ATTEMPTS:
                    raise
                progress(f"{service.name}: {exc.message}; starting it again")
        raise AssertionError("unreachable")

    def _start(self, service: Service) -> int:
        service.check_installed()
        service.prepare()
        service.log_path.parent.mkdir(parents=True, exist_ok=True)
        with service.log_path.open("ab") as log:
            started = time.strftime("%Y-%m-%d %H:%M:%S")
            log.write(f"\n==== aegis stack: starting {service.name} at {started} ====\n".encode())
            log.flush()
            try:
                proc = subprocess.Popen(service.command(), stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True,
                                        user=service.run_as, env=service.env(), cwd=service.dir)
            except OSError as exc:
                raise StackError(f"{service.name}: could not be launched: {exc}",
                                 hint=f"see {service.log_path}") from None
        self._pidfile(service).write(proc.pid)
        self._wait_healthy(service, proc.pid, proc)
        try:
            service.bootstrap()
        except Exception as exc:  # noqa: BLE001 - any failure here is reported with the log
            raise self._failure(service, f"started but its set-up failed: {exc}") from None
        return proc.pid

    def _wait_healthy(self, service: Service, pid: int, proc: subprocess.Popen | None) -> None:
        timeout = self.settings.stack.start_timeout_seconds
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                self._pidfile(service).remove()
                raise self._failure(service, f"exited with code {proc.returncode} before it was healthy",
                                    ServiceExitedEarly)
            if service.probe_started():
                return
            time.sleep(0.25)
        stop_process_group(pid, service.stop_signal, self.settings.stack.stop_timeout_seconds)
        self._pidfile(service).remove()
        service.after_stop(False)
        raise self._failure(service, f"was not healthy within {timeout:.0f}s and was stopped")

    def _failure(self, service: Service, what: str, kind: type[StackError] = StackError) -> StackError:
        return kind(f"{service.name} {what}",
                          hint=f"its log is {service.log_path}; last lines:\n{tail(service.log_path)}")

    def down(self, names: list[str] | None = None, progress: Progress = lambda _: None) -> None:
        """Stop, in reverse order, only the processes this stack started (by pid file); members of a
        stop group together."""
        for batch in _stop_batches(list(reversed(self.select(names, optional=True)))):
            running = []
            for service in batch:
                pid = self.pid(service)
                if pid is None:
                    if names or service.in_default_set():
                        progress(f"{service.name}: not running")
                    continue
                running.append((service, pid))
            if not running:
                continue
            timeout = max(service.stop_timeout(self.settings.stack.stop_timeout_seconds) for service, _ in running)
            clean = stop_process_groups([(pid, service.stop_signal) for service, pid in running], timeout)
            for (service, pid), stopped in zip(running, clean, strict=True):
                self._pidfile(service).remove()
                progress(f"{service.name}: stopped (pid {pid}{'' if stopped else ', had to be killed'})")
                if note := service.after_stop(stopped):
                    progress(f"{service.name}: {note}")

    def status(self, names: list[str] | None = None) -> list[ServiceStatus]:
        result = []
        for service in self.select(names, optional=True):
            pid = self.pid(service)
            if not names and pid is None and not service.in_default_set():
                continue  # an optional server nobody started is not "down"
            result.append(ServiceStatus(service.name, pid, service.port,
                                        healthy=pid is not None and service.probe(),
                                        log=str(service.log_path)))
        return result


def _stop_batches(services: list[Service]) -> list[list[Service]]:
    """``services`` cut into runs: neighbours of one stop group together, every other service alone."""
    batches: list[list[Service]] = []
    for service in services:
        if batches and service.stop_group is not None and batches[-1][-1].stop_group == service.stop_group:
            batches[-1].append(service)
        else:
            batches.append([service])
    return batches
