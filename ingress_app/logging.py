"""Logging: JSON lines (python-json-logger) or plain text, with the correlation id.

`configure_logging` sets up the root logger once per process; gunicorn's own loggers
use the same formatter through `gunicorn.conf.py`'s `logconfig_dict`.
"""

from __future__ import annotations

import logging
import sys

from flask import g, has_request_context

from .frontdoor import current_correlation_id

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(correlation_id)s"


class CorrelationIdFilter(logging.Filter):
    """Stamp every record with the current request's correlation id (or '-')."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "correlation_id"):
            cid = current_correlation_id.get()
            if cid is None and has_request_context():  # a request context without the front door
                cid = g.get("correlation_id")
            record.correlation_id = cid or "-"
        return True


def make_formatter(log_format: str) -> logging.Formatter:
    if log_format.lower() == "json":
        from pythonjsonlogger.json import JsonFormatter

        return JsonFormatter(
            JSON_FIELDS,
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            timestamp=False,
        )
    return logging.Formatter(PLAIN_FORMAT)


def configure_logging(level: str = "INFO", log_format: str = "json") -> None:
    """Send the root logger's records to stderr in the chosen format."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_ingress", False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler._ingress = True  # type: ignore[attr-defined]
        handler.addFilter(CorrelationIdFilter())
        root.addHandler(handler)
    handler.setFormatter(make_formatter(log_format))
    root.setLevel(level.upper())
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
