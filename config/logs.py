"""Pulse's logging configuration: plain lines or one JSON object a line (``PULSE_LOG_FORMAT``).

Both formats keep secrets out the same two ways: the ``RedactTokens`` filter cleans each record before any
handler sees it (``config/logging_filters.py``), and the formatters pass every finished line, traceback
included, through the same ``redact`` once more, so a token that reaches a record by another way (an
exception's message, an attribute a library adds) is not written either. The JSON formatter leaves out the
``request`` attribute Django and runserver attach (a request object or a socket, whose text is not a log
field), and writes the traceback as one string field, so a record is always exactly one line.
"""

from __future__ import annotations

import logging

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as BaseJsonFormatter

from config.logging_filters import redact

FORMATS = ("plain", "json")


class PlainFormatter(logging.Formatter):
    """``time level logger message``, the traceback on the lines below, redacted as a whole."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(BaseJsonFormatter):
    """One JSON object a line: ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, any ``extra``
    fields, and ``exc_info`` (the traceback as text) when there is one; redacted as a whole."""

    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            reserved_attrs=[*RESERVED_ATTRS, "request"],
            timestamp="time",  # ISO 8601 in UTC, from the record's creation time
        )

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def formatter_for(log_format: str) -> logging.Formatter:
    """The formatter of ``log_format`` (one of :data:`FORMATS`); the handlers' ``"()"`` factory."""
    if log_format == "json":
        return JsonFormatter()
    return PlainFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")


def logging_config(*, log_format: str, level: str) -> dict[str, object]:
    """The ``LOGGING`` setting for ``log_format`` (one of :data:`FORMATS`) with the root at ``level``."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact_tokens": {"()": "config.logging_filters.RedactTokens"}},
        "formatters": {"pulse": {"()": "config.logs.formatter_for", "log_format": log_format}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "pulse", "filters": ["redact_tokens"]},
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
            # The HTTP client of PagerDuty's library logs every request's URL at INFO, and PagerDuty's URLs
            # hold user ids (GET /users/{id}), which Pulse keeps only as keyed hashes (docs/oncall.md §6).
            "httpx2": {"level": "WARNING"},
            # Redacted at the source, before any handler (mail_admins, an error tracker) sees the record.
            "django.request": {"filters": ["redact_tokens"]},
            "django.security": {"filters": ["redact_tokens"]},
        },
    }
