"""Aegis Sync: the shared package (settings, models, database access, errors, logging, CLI)."""

__version__ = "0.1.0"
