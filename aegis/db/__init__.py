"""PostgreSQL access: connections with driver errors translated, and migrations."""

from aegis.db.connection import connect

__all__ = ["connect"]
