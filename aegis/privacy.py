"""Personal data (seed §6.5: email, phone, address) is masked before it leaves PostgreSQL."""

from __future__ import annotations


def mask_value(value: str | None) -> str | None:
    """Keep the first and last two characters, star the rest (short values are starred whole)."""
    if value is None:
        return None
    if len(value) <= 4:
        return "*" * len(value)
    return value[:2] + "*" * (len(value) - 4) + value[-2:]
