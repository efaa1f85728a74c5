"""Contact details (personal data, seed §6.5) picked out of free text: kept only in PostgreSQL."""

from __future__ import annotations

import re

_PHONE = re.compile(r"(?<!\d)(0\d{1,2}[-.)\s]?\d{3,4}[-.\s]?\d{4}|1[5-9]\d{2}-?\d{4})(?!\d)")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def find_phone(*texts: str | None) -> str | None:
    """The first telephone number in ``texts`` (02-123-4567, 044-204-7710, 1357-1234 ...)."""
    for text in texts:
        if text and (match := _PHONE.search(text)):
            return match.group(1).strip()
    return None


def find_email(*texts: str | None) -> str | None:
    for text in texts:
        if text and (match := _EMAIL.search(text)):
            return match.group(0)
    return None
