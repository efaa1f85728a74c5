"""Neo4j Community 5.x, the knowledge-graph target, run from jars resolved from Maven Central.

The server is the distribution's own main class (``org.neo4j.server.CommunityEntryPoint``) on
the classpath of ``maven/neo4j/pom.xml``; ``org.neo4j.cli.AdminTool`` (``neo4j-admin``) sets the
initial password before the first start. Bolt listens on loopback only, HTTP is off, auth is on.
It runs on the newest JDK of Java 25 or later with an ahead-of-time cache (``JavaService.ahead_of_time``).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from aegis.errors import StackError
from devstack.base import port_open
from devstack.jars import ensure_jars, jars_dir
from devstack.java import JavaService

POM_NAME = "neo4j"
ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
ADMIN_TOOL = "org.neo4j.cli.AdminTool"


class Neo4j(JavaService):
    name = "neo4j"
    ahead_of_time = True

    @property
    def port(self) -> int:
        return self.settings.neo4j.port

    @property
    def conf_dir(self) -> Path:
        return self.dir / "conf"

    @property
    def data_dir(self) -> Path:
        return self.dir / "data"

    def check_installed(self) -> None:
        self.java()
        ensure_jars(self.settings.stack, name=POM_NAME)

    def classpath(self) -> str:
        return str(jars_dir(self.settings.stack, POM_NAME) / "neo4j-libs" / "*")

    def heap(self) -> str:
        return self.settings.stack.neo4j_heap

    def jvm_flags(self) -> list[str]:
        # The distribution's defaults (neo4j.conf server.jvm.additional), minus AlwaysPreTouch.
        return ["-Xms128m", f"-Xmx{self.heap()}", "-XX:+UseG1GC", "-XX:-OmitStackTraceInFastThrow",
                "-XX:+UnlockExperimentalVMOptions", "-XX:+TrustFinalNonStaticFields", "-XX:+DisableExplicitGC",
                "-XX:+ExitOnOutOfMemoryError", "-Djdk.nio.maxCachedBufferSize=1024",
                "-Dio.netty.tryReflectionSetAccessible=true", "-Dlog4j2.disable.jmx=true",
                "-Dfile.encoding=UTF-8", "-Djava.awt.headless=true",
                "--add-opens=java.base/java.nio=ALL-UNNAMED", "--add-opens=java.base/java.io=ALL-UNNAMED",
                "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED"]

    def config(self) -> dict[str, str]:
        address = f"127.0.0.1:{self.port}"
        return {
            "server.default_listen_address": "127.0.0.1",
            "server.bolt.enabled": "true",
            "server.bolt.listen_address": address,
            "server.bolt.advertised_address": address,
            "server.http.enabled": "false",
            "server.https.enabled": "false",
            "dbms.security.auth_enabled": "true",
            "server.memory.pagecache.size": self.settings.stack.neo4j_pagecache,
            "dbms.memory.transaction.total.max": "256m",
            "db.tx_log.rotation.retention_policy": "256M size",
            "dbms.usage_report.enabled": "false",
            # The sink's batch statements are index-driven and their plans never improve with new
            # statistics, but replanning one takes seconds on 2 cores: a stall of every batch behind it.
            "dbms.cypher.statistics_divergence_threshold": "1.0",
            "dbms.cypher.min_replan_interval": "1h",
            "server.directories.data": str(self.data_dir),
            "server.directories.logs": str(self.dir / "logs"),
            "server.directories.run": str(self.dir / "run"),
        }

    def env(self) -> dict[str, str]:
        env = super().env()
        env["NEO4J_HOME"] = str(self.dir)
        env["NEO4J_CONF"] = str(self.conf_dir)
        return env

    def prepare(self) -> None:
        super().prepare()
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        (self.conf_dir / "neo4j.conf").write_text("".join(f"{k}={v}\n" for k, v in self.config().items()))
        if (self.data_dir / "databases" / "system").exists():
            return  # the initial password only applies before the first start
        result = subprocess.run(
            [self.java(), "-Xmx256m", "-cp", self.classpath(), ADMIN_TOOL, "dbms", "set-initial-password",
             self.settings.neo4j.password.get_secret_value()],
            capture_output=True, text=True, env=self.env(), cwd=self.dir)
        if result.returncode != 0:
            raise StackError(f"neo4j: setting the initial password failed (exit {result.returncode})",
                             hint=(result.stdout + result.stderr)[-2000:])

    def cache_inputs(self) -> tuple[list[Path], list[Path]]:
        return [jars_dir(self.settings.stack, POM_NAME) / "neo4j-libs"], []

    def command(self) -> list[str]:
        return self.java_command(self.classpath(), ENTRY_POINT, f"--home-dir={self.dir}",
                                 f"--config-dir={self.conf_dir}", "--console-mode")

    def probe(self) -> bool:
        """Bolt answers our credentials, and the server answering is the one of this state directory."""
        import neo4j

        if not port_open(self.port):
            return False
        settings = self.settings.neo4j
        try:
            with neo4j.GraphDatabase.driver(f"bolt://127.0.0.1:{self.port}",
                                            auth=(settings.user, settings.password.get_secret_value()),
                                            connection_timeout=2) as driver, \
                    driver.session(database="system") as session:  # auto-commit: the driver does not retry it
                record = session.run("CALL dbms.listConfig('server.directories.data') YIELD value "
                                     "RETURN value").single()
        except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError):
            return False
        return record is not None and Path(record["value"]).resolve() == self.data_dir.resolve()
