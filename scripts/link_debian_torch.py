"""Make Debian's CPU-only torch importable from a virtualenv, without the rest of dist-packages.

PyPI's Linux x86_64 torch wheels pull several GB of CUDA packages, and PyTorch's own CPU wheel
index is not reachable from these machines. Debian's ``python3-torch`` (bookworm: 1.13.1, built
for CPython 3.11, no CUDA) is. This script links exactly the torch packages (and torch's
egg-info, so pip sees the requirement as satisfied and never downloads a CUDA build) into a
directory of their own and puts that directory on the venv's path with a ``.pth`` file.

Usage: ``.venv/bin/python scripts/link_debian_torch.py`` (after ``apt-get install
python3-torch libopenblas0-pthread``). Idempotent. Does nothing when torch already imports.
"""

from __future__ import annotations

import importlib.util
import sys
import sysconfig
from pathlib import Path

DEBIAN_DIST_PACKAGES = Path("/usr/lib/python3/dist-packages")
LINKED = ("torch", "torchgen", "functorch")
PTH_NAME = "aegis_debian_torch.pth"


def main() -> int:
    site_packages = Path(sysconfig.get_paths()["purelib"])
    pth = site_packages / PTH_NAME
    if importlib.util.find_spec("torch") is not None and not pth.exists():
        print("torch is already importable here; nothing to link")
        return 0
    if not (DEBIAN_DIST_PACKAGES / "torch").is_dir():
        print("Debian's torch is not installed: run `apt-get install -y --no-install-recommends "
              "python3-torch libopenblas0-pthread` first", file=sys.stderr)
        return 1
    if sys.version_info[:2] != (3, 11):
        print(f"Debian's torch is built for Python 3.11, this is {sys.version.split()[0]}", file=sys.stderr)
        return 1
    target = site_packages.parent / "debian-torch"
    target.mkdir(exist_ok=True)
    names = list(LINKED) + [p.name for p in DEBIAN_DIST_PACKAGES.glob("torch-*.egg-info")]
    for name in names:
        source = DEBIAN_DIST_PACKAGES / name
        link = target / name
        if source.exists() and not link.exists():
            link.symlink_to(source)
    pth.write_text(f"{target}\n")
    print(f"linked Debian's CPU torch into {target} ({', '.join(names)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
