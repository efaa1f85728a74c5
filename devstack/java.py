"""What every Java server of the local stack shares: the JVM, its jars, heap, flags and log config."""

from __future__ import annotations

import os
import re
import shutil
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from devstack.aot import AOT_MIN_JAVA, AotCache, cache_key
from devstack.base import Service
from devstack.jars import ensure_jars

if TYPE_CHECKING:
    from aegis.settings import StackSettings


def java_executable(stack: StackSettings) -> str | None:
    """The ``java`` the stack runs its servers with: ``AEGIS_STACK_JAVA_HOME``'s, else ``JAVA_HOME``'s,
    else the one on PATH; None if there is none."""
    home = stack.java_home or (Path(os.environ["JAVA_HOME"]) if os.environ.get("JAVA_HOME") else None)
    if home and (home / "bin" / "java").exists():
        return str(home / "bin" / "java")
    return shutil.which("java")


def jdk_tool(stack: StackSettings, name: str, pid: int) -> str:
    """A JDK tool (``jcmd``, ``jfr``) of the JVM ``pid`` runs on (OpenSearch's Java may not be the
    others'), else beside the ``java`` the stack runs its servers with, else ``name`` on PATH."""
    try:
        own = Path(os.readlink(f"/proc/{pid}/exe")).parent / name
    except OSError:
        own = None
    if own is not None and own.exists():
        return str(own)
    java = java_executable(stack)
    return str(Path(java).resolve().parent / name) if java else name


JVM_DIRECTORY = Path("/usr/lib/jvm")


def newest_jdk_home(min_major: int, search: Path = JVM_DIRECTORY) -> Path | None:
    """The newest full JDK of at least ``min_major`` installed beside the system's (e.g. a Temurin 25
    in /usr/lib/jvm), or None. A full JDK (``javac`` present) has every locale: a jlinked runtime may
    lack the Thai break iterator that OpenSearch's analysis module needs for every index."""
    found: list[tuple[tuple[int, ...], Path]] = []
    for home in search.glob("*/") if search.is_dir() else []:
        if home.is_symlink() or not (home / "bin" / "javac").exists():
            continue
        version = java_version(str(home / "bin" / "java"))
        major = java_major(version)
        if version and major is not None and major >= min_major:
            found.append((tuple(int(p) for p in re.findall(r"\d+", version)), home))
    return max(found)[1] if found else None


def java_version(java: str) -> str | None:
    """The version a java's home declares in its ``release`` file ("25.0.2"); None if unknown."""
    release = Path(java).resolve().parent.parent / "release"
    try:
        for line in release.read_text().splitlines():
            if line.startswith("JAVA_VERSION="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        return None
    return None


def java_major(version: str | None) -> int | None:
    """25 for "25.0.2", 8 for "1.8.0_392"; None if unknown."""
    if not version:
        return None
    parts = version.split(".")
    try:
        major = int(parts[0])
        return int(parts[1]) if major == 1 and len(parts) > 1 else major
    except ValueError:
        return None


class JavaService(Service):
    """A server run as a JVM process from the jars resolved into the state directory.

    One with ``ahead_of_time`` runs on the newest JDK of Java 25 or later (``AEGIS_STACK_AOT_JAVA_HOME``,
    else the newest in /usr/lib/jvm, else the stack's java) with an ahead-of-time cache
    (``devstack/aot.py``): from its second life on it compiles for the load it served before.
    """

    compiled_while_running = True
    main_class: str = ""
    ahead_of_time: bool = False

    @cached_property
    def runtime(self) -> tuple[str, str | None]:
        """This server's java and its version, looked up once (a scan of /usr/lib/jvm)."""
        home = (self.settings.stack.aot_java_home or newest_jdk_home(AOT_MIN_JAVA)) if self.ahead_of_time else None
        if home is None:
            java = java_executable(self.settings.stack)
            if not java:
                raise self.missing("`java` (Java 17+)",
                                   "run `make install` or `apt-get install -y openjdk-17-jre-headless`")
        elif (home / "bin" / "java").exists():
            java = str(home / "bin" / "java")
        else:
            raise self.missing(f"{home}/bin/java", "set AEGIS_STACK_AOT_JAVA_HOME to a Java 17+ JDK, or unset "
                               "it to use the newest one in /usr/lib/jvm")
        return java, java_version(java)

    def java(self) -> str:
        return self.runtime[0]

    def launch_flags(self) -> list[str]:
        """The server's own flags, and what its java needs on top."""
        native = ["--enable-native-access=ALL-UNNAMED"] if (java_major(self.runtime[1]) or 0) >= 22 else []
        return [*self.jvm_flags(), *native]  # JNA, and Lucene's java.lang.foreign mapping of its files

    def cache_inputs(self) -> tuple[list[Path], list[Path]]:
        """The directories of jars and the single files whose change makes the cache stale."""
        return [], []

    @property
    def aot_cache(self) -> AotCache | None:
        """The server's ahead-of-time cache, when its java has them and the setting keeps one. Looked up
        afresh each time: its key covers jars that ``check_installed`` may only just have resolved."""
        if not self.ahead_of_time or not self.settings.stack.aot_cache:
            return None
        version = self.runtime[1]
        if (java_major(version) or 0) < AOT_MIN_JAVA:
            return None
        directories, files = self.cache_inputs()
        return AotCache(self.dir / "aot", cache_key(version or "", self.launch_flags(), directories, files),
                        self.settings.stack.aot_min_training_seconds)

    def java_command(self, classpath: str, *main: str) -> list[str]:
        """``java``, its flags (a cache's included), the class path, then the main class and its arguments."""
        cache = self.aot_cache
        return [self.java(), *self.launch_flags(), *(cache.flags() if cache else []), "-cp", classpath, *main]

    def start_detail(self) -> str:
        if not self.ahead_of_time:
            return ""
        cache = self.aot_cache
        return f"Java {self.runtime[1] or '?'}" + (f", {cache.describe()}" if cache else "")

    def stop_timeout(self, configured: float) -> float:
        cache = self.aot_cache
        training = cache is not None and not cache.ready
        return configured + 60 if training else configured  # the JVM writes its cache on the way out

    def after_stop(self, stopped_cleanly: bool) -> str | None:
        cache = self.aot_cache
        return cache.finish_training(stopped_cleanly) if cache else None

    @property
    def jars(self) -> Path:
        return self.root / "jars"

    def check_installed(self) -> None:
        self.java()
        ensure_jars(self.settings.stack)

    def classpath(self) -> str:
        return str(self.jars / "kafka-libs" / "*")

    def heap(self) -> str:
        raise NotImplementedError

    def log4j_config(self) -> Path:
        path = self.dir / "log4j2.properties"
        path.write_text(
            "status = warn\n"
            "appender.console.type = Console\nappender.console.name = STDOUT\n"
            "appender.console.layout.type = PatternLayout\n"
            "appender.console.layout.pattern = [%d] %p %m (%c)%n\n"
            "rootLogger.level = INFO\nrootLogger.appenderRefs = stdout\nrootLogger.appenderRef.stdout.ref = STDOUT\n"
            "logger.kafka.name = kafka\nlogger.kafka.level = WARN\n"
            "logger.apache.name = org.apache.kafka\nlogger.apache.level = WARN\n"
            "logger.connect.name = org.apache.kafka.connect.runtime.Worker\nlogger.connect.level = INFO\n"
            "logger.reflections.name = org.reflections\nlogger.reflections.level = ERROR\n")
        return path

    def jvm_flags(self) -> list[str]:
        return ["-Xms256m", f"-Xmx{self.heap()}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
                "-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent",
                "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={self.log4j_config()}"]

    def properties_file(self, values: dict[str, str], name: str) -> Path:
        path = self.dir / name
        path.touch(mode=0o600)  # it may hold credentials (SASL): only the stack's user reads it
        path.chmod(0o600)
        # Java properties: a backslash escapes, so a literal one (a JAAS password's) is written doubled.
        path.write_text("".join(f"{k}={v.replace(chr(92), chr(92) * 2)}\n" for k, v in values.items()))
        return path
