"""The collector scheduler's /metrics, /health and /health/ready (seed §13)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from collectors.runner import PassResult


class CollectorHealth:
    """Ready while the last pass stored something or failed only in some sources."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.last_run_id: str | None = None
        self.failed_sources: list[str] = []
        self.ready = True

    def record(self, result: PassResult) -> None:
        with self._lock:
            self.last_run_id = result.run_id
            self.failed_sources = [s.source for s in result.summaries if s.error]
            self.ready = not result.summaries or len(self.failed_sources) < len(result.summaries)

    def to_dict(self) -> dict:
        with self._lock:
            return {"ready": self.ready, "last_run_id": self.last_run_id, "failed_sources": self.failed_sources}


class ObservabilityServer:
    def __init__(self, health: CollectorHealth, host: str, port: int):
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path == "/metrics":
                    self._send(200, generate_latest(), CONTENT_TYPE_LATEST)
                elif self.path == "/health":
                    self._send(200, b'{"status": "alive"}', "application/json")
                elif self.path == "/health/ready":
                    state = owner.health.to_dict()
                    self._send(200 if state["ready"] else 503, json.dumps(state).encode(), "application/json")
                else:
                    self._send(404, b"not found", "text/plain")

            def _send(self, code: int, body: bytes, content_type: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args) -> None:
                pass

        self.health = health
        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ObservabilityServer:
        threading.Thread(target=self._httpd.serve_forever, name="collector-metrics", daemon=True).start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
