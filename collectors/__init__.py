"""Collectors: every public policy source into PostgreSQL, validated, normalised and idempotent.

Collectors only ever write to PostgreSQL (``collectors.store``); Debezium carries the rows on.
"""
