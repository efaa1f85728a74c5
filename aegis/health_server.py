"""The small HTTP server every long-running process exposes: ``/metrics``, ``/health``, ``/health/ready``.

``/health`` answers 200 ``{"alive": true}`` while the process is alive (503 once it is not);
``/health/ready`` answers 200 or 503 with the process's readiness document, whose ``ready`` key
decides the code. It serves from a daemon thread, so a stuck main loop still shows up as
"alive but not ready" instead of a timeout.

Every process's metrics also carry ``aegis_service_info{service, environment} 1`` (SERVICE_NAME,
ENVIRONMENT; ``publish_service_info``): one series per process, joined on ``job``/``instance`` when a
query wants the deployment's name, so no other series changes its labels.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from prometheus_client import CollectorRegistry, Info

if TYPE_CHECKING:
    from aegis.settings import ServiceSettings

_SERVICE_INFO: WeakKeyDictionary[CollectorRegistry, Info] = WeakKeyDictionary()


def publish_service_info(registry: CollectorRegistry, service: ServiceSettings) -> None:
    """``aegis_service_info{service, environment} 1`` in ``registry`` (once per registry; again: updated)."""
    info = _SERVICE_INFO.get(registry)
    if info is None:
        info = _SERVICE_INFO[registry] = Info("aegis_service", "The deployment this process belongs to "
                                              "(SERVICE_NAME, ENVIRONMENT)", registry=registry)
    info.info({"service": service.service_name, "environment": service.environment})


class HealthServer:
    """Serves one process's metrics and health from a daemon thread."""

    def __init__(self, host: str, port: int, *, metrics: Callable[[], bytes], metrics_content_type: str,
                 alive: Callable[[], bool], readiness: Callable[[], dict], thread_name: str):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server's naming
                if self.path == "/metrics":
                    self._send(200, metrics(), metrics_content_type)
                elif self.path == "/health":
                    is_alive = alive()
                    self._send(200 if is_alive else 503, json.dumps({"alive": is_alive}).encode(), "application/json")
                elif self.path == "/health/ready":
                    state = readiness()
                    self._send(200 if state.get("ready") else 503, json.dumps(state).encode(), "application/json")
                else:
                    self._send(404, b'{"error": "not found"}', "application/json")

            def _send(self, code: int, body: bytes, content_type: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args) -> None:
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=thread_name, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
