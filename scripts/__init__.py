"""Repository scripts (run as files: ``python scripts/NAME.py``); a package so tests import them as ``scripts.NAME``."""
