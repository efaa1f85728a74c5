"""An ahead-of-time cache for a JVM server of the local stack (JDK 25+, JEP 483/514/515).

A JVM that starts with a cache has its classes already loaded and linked and the method profiles
of an earlier run of the same server: C2 compiles the hot paths for the load they really see from
the start, instead of recompiling them after the first real requests deoptimized what a synthetic
warm-up taught (bench/RESULTS.md, "What OpenSearch compiles in the first load after a warm-up").

The life of a cache, one file per server under ``<server dir>/aot/``:

1. **Training.** No cache for this server's key: the JVM starts with ``-XX:AOTCacheOutput`` and
   records what it loads and profiles. At a clean stop it writes the cache (a child JVM assembles
   it: ~10 s and ~120 MB for OpenSearch), then ``finish_training`` keeps it only if the run lasted
   ``aot_min_training_seconds``: a cache from a 30-second test stack would teach little.
2. **Use.** The cache exists: the JVM starts with ``-XX:AOTCache`` and trains nothing.
3. **Staleness.** The key is a digest of the java's version, the flags and every jar on the class
   path (name and size): an upgrade of the server, the JDK or a flag gives a new key, so a new
   training run, and older caches are deleted. The JVM checks the class path itself as well and
   runs without a cache it finds stale (``AOTMode=auto``), so a wrong cache costs speed only.

Behavior when things go wrong: a JVM killed before its cache was written (SIGKILL, a stop timeout)
leaves a partial file, which ``finish_training`` deletes; the next start trains again. A java older
than 25 gets no flag at all.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

AOT_MIN_JAVA = 25
"""The first Java whose JVM writes a cache in one step (``-XX:AOTCacheOutput``, JEP 514)."""


@dataclass(frozen=True)
class AotCache:
    """The cache of one server: where it lives, and the key its JVM's inputs give."""

    directory: Path
    key: str
    min_training_seconds: float

    @property
    def path(self) -> Path:
        return self.directory / f"{self.key}.aot"

    @property
    def training_path(self) -> Path:
        return self.directory / f"{self.key}.training.aot"

    @property
    def _training_started(self) -> Path:
        return self.directory / f"{self.key}.training.started"

    @property
    def ready(self) -> bool:
        return self.path.exists()

    def flags(self) -> list[str]:
        """The JVM flags of the next start: use the cache, or train one (and forget older keys')."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for other in self.directory.iterdir():
            if not other.name.startswith(self.key + "."):
                other.unlink(missing_ok=True)
        if self.ready:
            return [f"-XX:AOTCache={self.path}"]
        self.training_path.unlink(missing_ok=True)
        self._training_started.write_text(f"{time.time():.3f}\n")
        return [f"-XX:AOTCacheOutput={self.training_path}"]

    def describe(self) -> str:
        if self.ready:
            return f"ahead-of-time cache {self.path.name}"
        return f"training an ahead-of-time cache (kept after a clean stop ≥ {self.min_training_seconds:.0f}s up)"

    def finish_training(self, stopped_cleanly: bool) -> str | None:
        """After the JVM stopped: keep a cache it wrote in a long enough, clean run; delete any
        other training output. Returns what was done, or None when nothing was training."""
        if not self._training_started.exists():
            return None
        try:
            lasted = max(0.0, time.time() - float(self._training_started.read_text().strip() or 0))
        except ValueError:
            lasted = 0.0
        self._training_started.unlink(missing_ok=True)
        written = self.training_path.exists() and self.training_path.stat().st_size > 0
        if stopped_cleanly and written and lasted >= self.min_training_seconds:
            self.training_path.replace(self.path)
            return f"ahead-of-time cache kept ({self.path.stat().st_size / 2**20:.0f} MiB, trained for {lasted:.0f}s)"
        self.training_path.unlink(missing_ok=True)
        if not stopped_cleanly:
            return "ahead-of-time cache not kept: the server did not stop cleanly (trains again at the next start)"
        if not written:
            return "ahead-of-time cache not kept: the JVM wrote none (its log says why; trains again at the next start)"
        return (f"ahead-of-time cache not kept: trained for {lasted:.0f}s, less than "
                f"{self.min_training_seconds:.0f}s (trains again at the next start)")


def cache_key(java_version: str, flags: list[str], class_path_dirs: list[Path], extra_files: list[Path]) -> str:
    """A digest of what makes a cache valid: the java, its flags, and every jar on the class path."""
    digest = hashlib.sha256(java_version.encode())
    for flag in flags:
        digest.update(b"\0" + flag.encode())
    for directory in class_path_dirs:
        for jar in sorted(directory.glob("*.jar")):
            digest.update(f"\0{jar.name}:{jar.stat().st_size}".encode())
    for path in extra_files:
        digest.update(b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]
