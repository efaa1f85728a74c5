"""Structured JSON logging: one JSON object per line on stderr, personal data masked.

Every record passes ``PersonalDataFilter`` on its way out: the message, every string field and the
traceback are masked by ``aegis.privacy.mask_text``, so a log line never carries personal data,
whatever a caller put in it (a rejected record's reason, a target's error quoting a document).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from aegis.privacy import mask_json, mask_text

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class PersonalDataFilter(logging.Filter):
    """Masks the message and every extra field of a record (``aegis.privacy``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_text(record.getMessage())
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in _RESERVED and isinstance(value, (str, dict, list)):
                setattr(record, key, mask_json(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        payload.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_text:
            payload["exc"] = mask_text(record.exc_text)
        elif record.exc_info:
            payload["exc"] = mask_text(self.formatException(record.exc_info))
        return json.dumps(payload, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO", json_format: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_format else logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(PersonalDataFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "urllib3", "elastic_transport", "opensearch", "neo4j", "kafka"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
