"""Typed models shared by every part: policies and their statuses."""

from aegis.models.policy import PolicyRecord, PolicyRow, PolicyStatus

__all__ = ["PolicyRecord", "PolicyRow", "PolicyStatus"]
