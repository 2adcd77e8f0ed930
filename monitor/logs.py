"""Logging set-up: one line per event, as text or as JSON objects (config `logging.format`).

Owns the log format only; modules log through `logging.getLogger("monitor.<module>")` and
pass structured fields with `extra={"event": ..., "feed": ..., "counts": {...}}`, which JSON
lines carry as their own keys (text lines show the message only).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

# what every LogRecord has; anything else on a record came from `extra=` and is a field
_STANDARD = set(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))) | {"message", "asctime"}


def fields(record: logging.LogRecord) -> dict:
    """The structured fields a call passed with `extra={...}` (feed, channel, delivery_id, counts, ...)."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the call's fields (`extra=`), exception."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
               "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        for key, value in fields(record).items():
            doc.setdefault(key, value)
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


def setup(fmt: str = "text", level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "trafilatura"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
