"""OpenSearch 2.19, the search target, run natively from jars resolved from Maven Central.

There is no distribution zip: ``maven/opensearch/pom.xml`` resolves the server and the
modules the search sink needs (netty4 HTTP transport, analysis-common), and
``maven/opensearch/AegisOpenSearchNode.java`` — run by Java's single-file source launcher —
starts a node with those modules as classpath plugins. The security plugin is absent, so HTTP is
plain: the node binds to 127.0.0.1 only. Single node, no replicas, heap ``SEARCH_HEAP``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import httpx

from aegis.stack.base import port_open
from aegis.stack.jars import ensure_jars, jars_dir
from aegis.stack.kafka import _JavaService

POM_NAME = "opensearch"
LAUNCHER = "AegisOpenSearchNode.java"


def launcher_path() -> Path:
    return Path(str(resources.files("aegis.stack").joinpath(f"maven/{POM_NAME}/{LAUNCHER}")))


class OpenSearch(_JavaService):
    name = "opensearch"

    @property
    def port(self) -> int:
        return httpx.URL(self.settings.search.url).port or 9200

    def check_installed(self) -> None:
        java = Path(self.java())
        if not (java.parent / "javac").exists():
            raise self.missing("a JDK (javac beside java)", "the node launcher runs as a Java source file: "
                               "install a JDK (`apt-get install -y openjdk-17-jdk-headless`) or set AEGIS_STACK_JAVA_HOME")
        ensure_jars(self.settings.stack, name=POM_NAME)

    def classpath(self) -> str:
        return str(jars_dir(self.settings.stack, POM_NAME) / "opensearch-libs" / "*")

    def heap(self) -> str:
        return self.settings.search.heap

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
        search = self.settings.search
        (self.dir / "config" / "opensearch.yml").write_text("".join(f"{k}: {v}\n" for k, v in {
            "cluster.name": "aegis-local",
            "node.name": "aegis-local-1",
            "discovery.type": "single-node",
            "network.host": "127.0.0.1",
            "http.port": self.port,
            "transport.port": search.transport_port,
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

    def command(self) -> list[str]:
        return [self.java(), *self.jvm_flags(), "-cp", self.classpath(), str(launcher_path()), str(self.dir)]

    def probe(self) -> bool:
        if not port_open(self.port):
            return False
        try:
            response = httpx.get(f"http://127.0.0.1:{self.port}/_cluster/health", timeout=2)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.json().get("status") in {"green", "yellow"}
