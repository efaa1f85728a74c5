"""Java servers' jars, resolved from Maven Central through the committed pom (never committed themselves)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from aegis.errors import ErrorCode, StackError
from aegis.settings import StackSettings


def pom_path(name: str | None = None) -> Path:
    """The committed pom: ``maven/pom.xml`` (Kafka) or ``maven/<name>/pom.xml`` for another server."""
    relative = "maven/pom.xml" if name is None else f"maven/{name}/pom.xml"
    return Path(str(resources.files("devstack").joinpath(relative)))


def jars_dir(stack: StackSettings, name: str | None = None) -> Path:
    return stack.state_path / ("jars" if name is None else f"jars-{name}")


def ensure_jars(stack: StackSettings, progress: Callable[[str], None] = lambda _: None,
                force: bool = False, name: str | None = None) -> Path:
    """Resolve the jars of pom ``name`` (see ``pom_path``) once per pom version; later calls are free.

    Each pom resolves into its own directory, so servers' dependency trees never mix. Returns it.
    """
    out = jars_dir(stack, name)
    pom = pom_path(name)
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()
    stamp = out / ".pom-sha256"
    if not force and stamp.exists() and stamp.read_text().strip() == digest:
        return out
    mvn = shutil.which(stack.maven_command)
    if mvn is None:
        raise StackError("Maven (`mvn`) not found: it resolves Kafka, Kafka Connect and Debezium jars",
                         code=ErrorCode.STACK_DEPENDENCY_MISSING,
                         hint="run `make install` or `apt-get install -y maven`")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    progress(f"resolving server jars from Maven Central into {out} (first time only) ...")
    started = time.monotonic()
    result = subprocess.run([mvn, "-B", "-q", "-f", str(pom), f"-DoutputDir={out}", "package"],
                            capture_output=True, text=True, cwd=str(out))
    if result.returncode != 0:
        raise StackError("resolving the server jars with Maven failed",
                         code=ErrorCode.STACK_DEPENDENCY_MISSING,
                         hint="check network access to Maven Central; Maven said:\n"
                              + (result.stdout + result.stderr)[-3000:])
    stamp.write_text(digest)
    progress(f"jars resolved in {time.monotonic() - started:.0f}s")
    return out
