"""OpenSearch 2.19, the search target, run natively from jars resolved from Maven Central.

There is no distribution zip: ``maven/opensearch/pom.xml`` resolves the server and the
modules the search sink needs (netty4 HTTP transport, analysis-common), and
``maven/opensearch/AegisOpenSearchNode.java`` — compiled once into the state directory (again
only when its source changes) — starts a node with those modules as classpath plugins. The
security plugin is absent, so HTTP is plain: the node binds to 127.0.0.1 only. Single node, no
replicas, heap ``AEGIS_STACK_OPENSEARCH_HEAP``.

The node runs on the newest JDK of Java 25 or later in /usr/lib/jvm (this machine image has a
Temurin 25 beside Debian's 17; ``AEGIS_STACK_OPENSEARCH_JAVA_HOME`` overrides, and without one it
runs on the stack's java) with an ahead-of-time cache (``devstack/aot.py``): from its second start
on it compiles for the load it served before. The launcher is compiled by the stack's JDK
(``javac --release 17``) and packed in a jar, since a cache takes classes from jars only.
"""

from __future__ import annotations

import hashlib
import subprocess
import zipfile
from functools import cached_property
from importlib import resources
from pathlib import Path

import httpx

from aegis.errors import StackError
from devstack.aot import AOT_MIN_JAVA, AotCache, cache_key
from devstack.base import port_open
from devstack.jars import ensure_jars, jars_dir
from devstack.java import JavaService, java_executable, java_major, java_version, newest_jdk_home

POM_NAME = "opensearch"
LAUNCHER = "AegisOpenSearchNode.java"


def launcher_path() -> Path:
    return Path(str(resources.files("devstack").joinpath(f"maven/{POM_NAME}/{LAUNCHER}")))


class OpenSearch(JavaService):
    name = "opensearch"

    @property
    def port(self) -> int:
        return httpx.URL(self.settings.search.url).port or 9200

    @cached_property
    def _runtime(self) -> tuple[str, str | None]:
        """The node's java and its version, looked up once (a scan of /usr/lib/jvm)."""
        home = self.settings.stack.opensearch_java_home or newest_jdk_home(AOT_MIN_JAVA)
        if home is None:
            java = super().java()
        elif (home / "bin" / "java").exists():
            java = str(home / "bin" / "java")
        else:
            raise self.missing(f"{home}/bin/java", "set AEGIS_STACK_OPENSEARCH_JAVA_HOME to a Java 17+ "
                               "JDK, or unset it to use the newest one in /usr/lib/jvm")
        return java, java_version(java)

    def java(self) -> str:
        return self._runtime[0]

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
                "-Dlog4j2.disable.jmx=true", "-Dopensearch.networkaddress.cache.ttl=60",
                *(["--enable-native-access=ALL-UNNAMED"]  # Lucene maps its files through java.lang.foreign
                  if (java_major(self._runtime[1]) or 0) >= 22 else [])]

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

    @property
    def aot_cache(self) -> AotCache | None:
        """The node's ahead-of-time cache, when its java has them and the setting keeps one. Looked up
        afresh each time: its key covers jars that ``check_installed`` may only just have resolved."""
        if not self.settings.stack.aot_cache:
            return None
        version = self._runtime[1]
        major = java_major(version)
        if version is None or major is None or major < AOT_MIN_JAVA:
            return None
        libs = jars_dir(self.settings.stack, POM_NAME) / "opensearch-libs"
        return AotCache(self.dir / "aot", cache_key(version, self.jvm_flags(), [libs], [launcher_path()]),
                        self.settings.stack.aot_min_training_seconds)

    def start_detail(self) -> str:
        cache = self.aot_cache
        return f"Java {self._runtime[1] or '?'}" + (f", {cache.describe()}" if cache else "")

    def stop_timeout(self, configured: float) -> float:
        cache = self.aot_cache
        training = cache is not None and not cache.ready
        return configured + 60 if training else configured  # the JVM writes its cache on the way out

    def after_stop(self, stopped_cleanly: bool) -> str | None:
        cache = self.aot_cache
        return cache.finish_training(stopped_cleanly) if cache else None

    def command(self) -> list[str]:
        self.compile_launcher()
        classpath = f"{self.classpath()}:{self.launcher_jar}"
        cache = self.aot_cache
        aot = cache.flags() if cache else []
        return [self.java(), *self.jvm_flags(), *aot, "-cp", classpath, "AegisOpenSearchNode", str(self.dir)]

    def probe(self) -> bool:
        if not port_open(self.port):
            return False
        try:
            response = httpx.get(f"http://127.0.0.1:{self.port}/_cluster/health", timeout=2)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.json().get("status") in {"green", "yellow"}
