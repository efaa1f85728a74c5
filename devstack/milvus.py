"""Milvus 2.3 standalone, the vector target, from the `milvus` PyPI package (it ships the server binary).

``devstack.milvus_launcher`` renders the configuration for our ports (gRPC on
``MILVUS_PORT``, eleven more after it) and execs the server, whose data (embedded etcd, rocksmq,
segments) and logs live under ``<state dir>/milvus``. Readiness is its ``/healthz``.
"""

from __future__ import annotations

import importlib.util
import sys
import urllib.error
import urllib.request

from devstack.base import Service


class Milvus(Service):
    name = "milvus"

    @property
    def port(self) -> int:
        return self.settings.milvus.port

    def check_installed(self) -> None:
        if importlib.util.find_spec("milvus") is None:
            raise self.missing("the `milvus` Python package (Milvus standalone server)",
                               "run `make install` (it installs the project's Python dependencies)")

    def command(self) -> list[str]:
        return [sys.executable, "-m", "devstack.milvus_launcher",
                "--base-dir", str(self.dir), "--port", str(self.port)]

    def probe(self) -> bool:
        url = f"http://127.0.0.1:{self.settings.milvus.health_port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return response.status == 200 and b"OK" in response.read()
        except (urllib.error.URLError, OSError):
            return False
