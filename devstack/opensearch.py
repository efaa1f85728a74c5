"""OpenSearch 2.19, the search target, run natively from jars resolved from Maven Central.

There is no distribution zip: ``maven/opensearch/pom.xml`` resolves the server and the
modules the search sink needs (netty4 HTTP transport, analysis-common), and
``maven/opensearch/AegisOpenSearchNode.java`` — compiled once into the state directory (again
only when its source changes) — starts a node with those modules as classpath plugins. The
security plugin is absent, so HTTP is plain: the node binds to 127.0.0.1 only. Single node, no
replicas, heap ``AEGIS_STACK_OPENSEARCH_HEAP``.
"""

from __future__ import annotations

import hashlib
import subprocess
from importlib import resources
from pathlib import Path

import httpx

from aegis.errors import StackError
from devstack.base import port_open
from devstack.jars import ensure_jars, jars_dir
from devstack.java import JavaService

POM_NAME = "opensearch"
LAUNCHER = "AegisOpenSearchNode.java"


def launcher_path() -> Path:
    return Path(str(resources.files("devstack").joinpath(f"maven/{POM_NAME}/{LAUNCHER}")))


class OpenSearch(JavaService):
    name = "opensearch"

    @property
    def port(self) -> int:
        return httpx.URL(self.settings.search.url).port or 9200

    def check_installed(self) -> None:
        java = Path(self.java())
        if not (java.parent / "javac").exists():
            raise self.missing("a JDK (javac beside java)",
                               "the node launcher is compiled from source: install a JDK "
                               "(`apt-get install -y openjdk-17-jdk-headless`) or set AEGIS_STACK_JAVA_HOME")
        ensure_jars(self.settings.stack, name=POM_NAME)

    def classpath(self) -> str:
        return str(jars_dir(self.settings.stack, POM_NAME) / "opensearch-libs" / "*")

    def heap(self) -> str:
        return self.settings.stack.opensearch_heap

    def jvm_flags(self) -> list[str]:
        return [f"-Xms{self.heap()}", f"-Xmx{self.heap()}", "-XX:+UseG1GC", "-XX:+ExitOnOutOfMemoryError",
                "-Djava.awt.headless=true", "-Dfile.encoding=UTF-8", "-Djava.io.tmpdir=" + str(self.dir / "tmp"),
                "-Dio.netty.noUnsafe=true", "-Dio.netty.noKeySetOptimization=true",
                "-Dio.netty.recycler.maxCapacityPerThread=0", "-Dlog4j.shutdownHookEnabled=false",
                "-Dlog4j2.disable.jmx=true", "-Dopensearch.networkaddress.cache.ttl=60"]

    def prepare(self) -> None:
        super().prepare()
        for sub in ("config", "data", "logs", "tmp"):
            (self.dir / sub).mkdir(exist_ok=True)
        (self.dir / "config" / "opensearch.yml").write_text("".join(f"{k}: {v}\n" for k, v in {
            "cluster.name": "aegis-local",
            "node.name": "aegis-local-1",
            "discovery.type": "single-node",
            "network.host": "127.0.0.1",
            "http.port": self.port,
            "transport.port": self.settings.stack.opensearch_transport_port,
            "path.data": self.dir / "data",
            "path.logs": self.dir / "logs",
            "action.auto_create_index": "false",
            "cluster.routing.allocation.disk.threshold_enabled": "false",
            "indices.query.bool.max_clause_count": 4096,
        }.items()))
        (self.dir / "config" / "log4j2.properties").write_text(
            "status = error\n"
            "appender.console.type = Console\nappender.console.name = console\n"
            "appender.console.layout.type = PatternLayout\n"
            "appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] %m%n\n"
            "rootLogger.level = warn\nrootLogger.appenderRef.console.ref = console\n"
            "logger.node.name = org.opensearch.node.Node\nlogger.node.level = info\n")

    @property
    def launcher_classes(self) -> Path:
        return self.dir / "launcher-classes"

    def compile_launcher(self) -> None:
        """Compile the launcher once per source version (a stamp holds the source's digest)."""
        source = launcher_path()
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        stamp = self.launcher_classes / ".source-sha256"
        if stamp.exists() and stamp.read_text().strip() == digest:
            return
        self.launcher_classes.mkdir(parents=True, exist_ok=True)
        javac = str(Path(self.java()).parent / "javac")
        result = subprocess.run([javac, "-nowarn", "-cp", self.classpath(), "-d", str(self.launcher_classes),
                                 str(source)], capture_output=True, text=True)
        if result.returncode != 0:
            raise StackError("opensearch: compiling the node launcher failed",
                             hint=(result.stdout + result.stderr)[-2000:])
        stamp.write_text(digest)

    def command(self) -> list[str]:
        self.compile_launcher()
        classpath = f"{self.classpath()}:{self.launcher_classes}"
        return [self.java(), *self.jvm_flags(), "-cp", classpath, "AegisOpenSearchNode", str(self.dir)]

    def probe(self) -> bool:
        if not port_open(self.port):
            return False
        try:
            response = httpx.get(f"http://127.0.0.1:{self.port}/_cluster/health", timeout=2)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.json().get("status") in {"green", "yellow"}
