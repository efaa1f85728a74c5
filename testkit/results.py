"""bench/RESULTS.md: blocks added between a section's ``<!-- NAME-results:start/end -->`` markers.

Shared by the writers that keep every run (the end-to-end benchmark, the fault-injection suite):
each run adds its block at the end of its section, and the section's placeholder goes.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
PLACEHOLDER = "*To be measured.*"


def markers(name: str) -> tuple[str, str]:
    """The start and end markers of section ``name`` (e.g. ``e2e``, ``faults``)."""
    return f"<!-- {name}-results:start -->", f"<!-- {name}-results:end -->"


def add_block(path: Path, name: str, block: str, *, section: str) -> None:
    """Append ``block`` inside section ``name``'s markers; ``SystemExit`` naming ``section`` if they are absent.

    A file that does not exist yet (a run's own results file) is created with the markers."""
    start, end = markers(name)
    if not path.exists():
        path.write_text(f"{start}\n{block}\n{end}\n", encoding="utf-8")
        return
    text = path.read_text(encoding="utf-8")
    if start not in text or end not in text:
        raise SystemExit(f"{path} has no {start} … {end} markers (the '{section}' section)")
    head, rest = text.split(start, 1)
    body, tail = rest.split(end, 1)
    body = body.replace(PLACEHOLDER, "").strip()
    body = f"{body}\n\n{block}" if body else block
    path.write_text(f"{head}{start}\n{body}\n{end}{tail}", encoding="utf-8")
