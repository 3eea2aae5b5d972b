"""The sandbox's logging: one JSON object per line on stderr, exceptions reduced to their type and frames.

Nothing the app logs carries request values (messages name field paths and rules only), and this
formatter adds two guarantees for whatever else ends up in a record: a value can never start a
new line or an escape sequence (JSON-escaped, ASCII only), and an exception's text, which may quote
the input that caused it, is never written; its type and stack frames are.
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
import traceback
from typing import Any

from ..suggest import did_you_mean

LEVELS = ("critical", "error", "warning", "info", "debug")
_TOKEN_IN_QUERY = re.compile(r"([?&]token=)[^&\s\"']*")


class JsonLines(logging.Formatter):
    """A log record as one line of ASCII JSON: time, level, logger, message, and an exception's type and frames."""

    def format(self, record: logging.LogRecord) -> str:
        """The record's JSON line (an exception's text is left out: it may quote the input)."""
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            # uvicorn's access lines quote the path: a view token in its query is not written.
            "message": _TOKEN_IN_QUERY.sub(r"\1***", record.getMessage()),
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
            entry["frames"] = "".join(traceback.format_tb(record.exc_info[2]))
        return json.dumps(entry, ensure_ascii=True)


def logging_config(level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` document: every logger (uvicorn's too) through :class:`JsonLines`."""
    if level.lower() not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}{did_you_mean(level.lower(), LEVELS)}")
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    loggers = ("uvicorn", "uvicorn.error", "uvicorn.access", "qcvngen.sandbox", "qcvn120_server")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonLines}},
        "handlers": {"stderr": handler},
        "loggers": {name: {"handlers": ["stderr"], "level": level.upper(), "propagate": False} for name in loggers},
        "root": {"handlers": ["stderr"], "level": level.upper()},
    }


def configure_logging(level: str) -> dict[str, Any]:
    """Apply :func:`logging_config` now (so start-up is logged too); returns it for uvicorn."""
    config = logging_config(level)
    logging.config.dictConfig(config)
    return config
