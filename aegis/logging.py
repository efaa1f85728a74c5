"""Structured JSON logging: one JSON object per line on stderr, personal data masked.

Every record passes ``PersonalDataFilter`` on its way out: the message, every string field and the
traceback are masked by ``aegis.privacy.mask_text``, so a log line never carries personal data,
whatever a caller put in it (a rejected record's reason, a target's error quoting a document).
Every line names the deployment it comes from: ``service`` (SERVICE_NAME) and ``environment`` (ENVIRONMENT).

Behavior when things go wrong: a record that cannot be masked (a bug in a detector) or cannot be
formatted (a caller's wrong ``%`` arguments) is still written, with its message, fields and
traceback withheld and the reason named; it never reaches the output unmasked and never raises
into the code that logged it.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from aegis.privacy import mask_json, mask_text
from aegis.settings import ServiceSettings

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class PersonalDataFilter(logging.Filter):
    """Masks the message and every extra field of a record (``aegis.privacy``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            self._mask(record)
        except Exception as exc:  # noqa: BLE001 - fail closed: the line survives, its content does not
            _withhold(record, exc)
        return True

    @staticmethod
    def _mask(record: logging.LogRecord) -> None:
        record.msg = mask_text(record.getMessage())
        record.args = None
        for key, value in _extra_fields(record):
            setattr(record, key, mask_json(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)


def _extra_fields(record: logging.LogRecord) -> list[tuple[str, str | dict | list]]:
    """A caller's ``extra`` fields that can carry text (what masking covers, or withholding hides)."""
    return [(key, value) for key, value in vars(record).items()
            if key not in _RESERVED and isinstance(value, (str, dict, list))]


def _masked_traceback(text: str) -> str:
    try:
        return mask_text(text)
    except Exception as exc:  # noqa: BLE001 - fail closed, as in the filter
        return f"(traceback withheld: masking it failed with {type(exc).__name__})"


def _withhold(record: logging.LogRecord, exc: Exception) -> None:
    record.msg = f"(log message withheld: masking it failed with {type(exc).__name__})"
    record.args = None
    for key, _ in _extra_fields(record):
        setattr(record, key, "(withheld)")
    if record.exc_info and record.exc_info[0] is not None:
        record.exc_text = f"{record.exc_info[0].__name__} (traceback withheld)"
    else:
        record.exc_text = None
    record.exc_info = None


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, service, environment, logger, message, then its extra fields."""

    def __init__(self, service: str = "data-pipeline", environment: str = "development") -> None:
        super().__init__()
        self.service, self.environment = service, environment

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "environment": self.environment,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        payload.update({k: v for k, v in vars(record).items() if k not in _RESERVED and k not in payload})
        if record.exc_text:
            payload["exc"] = _masked_traceback(record.exc_text)
        elif record.exc_info:
            payload["exc"] = _masked_traceback(self.formatException(record.exc_info))
        return json.dumps(payload, ensure_ascii=False, default=str)


def configure_logging(service: ServiceSettings, json_format: bool = True) -> None:
    """Every record to stderr, masked, at SERVICE's LOG_LEVEL, naming its SERVICE_NAME and ENVIRONMENT."""
    handler = logging.StreamHandler(sys.stderr)
    if json_format:
        handler.setFormatter(JsonFormatter(service.service_name, service.environment))
    else:
        handler.setFormatter(logging.Formatter(f"%(levelname)s {service.service_name}/{service.environment} "
                                               "%(name)s: %(message)s"))
    handler.addFilter(PersonalDataFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(service.log_level.upper())
    for noisy in ("httpx", "httpcore", "urllib3", "elastic_transport", "opensearch", "neo4j", "kafka"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
