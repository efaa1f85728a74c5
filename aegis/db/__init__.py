"""PostgreSQL access: connections with driver errors translated, and migrations."""

from aegis.db.connection import connect, scalar

__all__ = ["connect", "scalar"]
