"""Search-engine answers translated into the project's error taxonomy (``aegis.errors``).

Unreachable / timeouts / 429 / 5xx → ``TransientError``; other 4xx → ``TerminalError``. Per-item
bulk errors are judged by the sink (a refused document is a ``DataError``).
"""

from __future__ import annotations

from aegis.errors import ErrorCode, TerminalError, TransientError

TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}


def translate_status(status: int | None, what: str, detail: str) -> Exception:
    """The Aegis error for a failed call with HTTP ``status`` (None: no answer at all)."""
    if status is None or status in TRANSIENT_STATUS:
        return TransientError(f"search engine {what} failed: {detail}", code=ErrorCode.ELASTICSEARCH_SYNC_FAILED,
                              hint="the sink pauses and resumes when the engine answers; check SEARCH_URL")
    return TerminalError(f"search engine {what} was refused ({status}): {detail}",
                         code=ErrorCode.ELASTICSEARCH_SYNC_FAILED,
                         hint="check SEARCH_URL, credentials and the index template (cdc_sinks/search/template.py)")
