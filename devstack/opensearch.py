"""OpenSearch 2.19, the search target, run natively from jars resolved from Maven Central.

There is no distribution zip: ``maven/opensearch/pom.xml`` resolves the server and the
modules the search sink needs (netty4 HTTP transport, analysis-common), and
``maven/opensearch/AegisOpenSearchNode.java`` — compiled once into the state directory (again
only when its source changes) — starts a node with those modules as classpath plugins. The
security plugin is absent, so HTTP is plain: the node binds to 127.0.0.1 only. Single node, no
replicas, heap ``AEGIS_STACK_OPENSEARCH_HEAP``.

The node runs on the newest JDK of Java 25 or later with an ahead-of-time cache
(``JavaService.ahead_of_time``; this machine image has a Temurin 25 beside Debian's 17). The
launcher is compiled by the stack's JDK (``javac --release 17``) and packed in a jar, since a cache
takes classes from jars only.
"""

from __future__ import annotations

import hashlib
import subprocess
import zipfile
from importlib import resources
from pathlib import Path

import httpx

from aegis.errors import StackError
from devstack.base import port_open
from devstack.jars import ensure_jars, jars_dir
from devstack.java import JavaService, java_executable

POM_NAME = "opensearch"
LAUNCHER = "AegisOpenSearchNode.java"


def launcher_path() -> Path:
    return Path(str(resources.files("devstack").joinpath(f"maven/{POM_NAME}/{LAUNCHER}")))


class OpenSearch(JavaService):
    name = "opensearch"
    ahead_of_time = True

    @property
    def port(self) -> int:
        return httpx.URL(self.settings.search.url).port or 9200

    def javac(self) -> str:
        """The stack's JDK compiles the launcher (the node's own runtime may have no compiler)."""
        found = java_executable(self.settings.stack)
        javac = Path(found).resolve().parent / "javac" if found else None
        if javac is None or not javac.exists():
            raise self.missing("a JDK (javac beside java)",
                               "the node launcher is compiled from source: install a JDK "
                               "(`apt-get install -y openjdk-17-jdk-headless`) or set AEGIS_STACK_JAVA_HOME")
        return str(javac)

    def check_installed(self) -> None:
        self.java()
        self.javac()
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

    @property
    def launcher_jar(self) -> Path:
        return self.dir / "aegis-opensearch-launcher.jar"

    def compile_launcher(self) -> None:
        """Compile the launcher into a jar once per source version (a stamp holds the source's digest)."""
        source = launcher_path()
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        stamp = self.launcher_classes / ".source-sha256"
        if stamp.exists() and stamp.read_text().strip() == digest and self.launcher_jar.exists():
            return
        self.launcher_classes.mkdir(parents=True, exist_ok=True)
        result = subprocess.run([self.javac(), "-nowarn", "--release", "17", "-cp", self.classpath(),
                                 "-d", str(self.launcher_classes), str(source)], capture_output=True, text=True)
        if result.returncode != 0:
            raise StackError("opensearch: compiling the node launcher failed",
                             hint=(result.stdout + result.stderr)[-2000:])
        partial = self.launcher_jar.with_suffix(".partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as jar:
            for path in sorted(self.launcher_classes.rglob("*.class")):
                jar.write(path, path.relative_to(self.launcher_classes).as_posix())
        partial.replace(self.launcher_jar)
        stamp.write_text(digest)

    def cache_inputs(self) -> tuple[list[Path], list[Path]]:
        return [jars_dir(self.settings.stack, POM_NAME) / "opensearch-libs"], [launcher_path()]

    def command(self) -> list[str]:
        self.compile_launcher()
        return self.java_command(f"{self.classpath()}:{self.launcher_jar}", "AegisOpenSearchNode", str(self.dir))

    def probe(self) -> bool:
        if not port_open(self.port):
            return False
        try:
            response = httpx.get(f"http://127.0.0.1:{self.port}/_cluster/health", timeout=2)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.json().get("status") in {"green", "yellow"}
