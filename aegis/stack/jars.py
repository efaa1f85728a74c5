"""Java servers' jars, resolved from Maven Central through the committed pom (never committed themselves)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from importlib import resources
from pathlib import Path
from typing import Callable

from aegis.errors import ErrorCode, StackError
from aegis.settings import StackSettings


def pom_path() -> Path:
    return Path(str(resources.files("aegis.stack").joinpath("maven/pom.xml")))


def jars_dir(stack: StackSettings) -> Path:
    return stack.state_path / "jars"


def ensure_jars(stack: StackSettings, progress: Callable[[str], None] = lambda _: None,
                force: bool = False) -> Path:
    """Resolve the jars once per pom version; later calls are free. Returns the jars directory."""
    out = jars_dir(stack)
    pom = pom_path()
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
