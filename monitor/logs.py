"""Logging set-up: one line per event, as text or as JSON objects (config `logging.format`).

Owns the log format, and that nothing in a record can take over the terminal or the log
file: the text format strips control characters (ESC, BEL, CR, C1 ...) and indents
continuation lines, so a publisher's newline cannot forge a record of its own; the JSON
format escapes them. Credentials the config carries or names (webhook URLs, passwords,
see redact.py) are masked in both. Modules log through `logging.getLogger("monitor.<module>")`.
Structured fields passed with `extra={"event": ..., "feed": ..., "counts": {...}}` are
carried by JSON lines as their own keys (text lines show the message only).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

from monitor.redact import scrub
from monitor.sanitize import json_safe, log_text


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message`, control characters out, credentials masked."""

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        self.secrets = tuple(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return log_text(scrub(super().format(record), self.secrets))

# what every LogRecord has; anything else on a record came from `extra=` and is a field
_STANDARD = set(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))) | {"message", "asctime"}


def fields(record: logging.LogRecord) -> dict:
    """The structured fields a call passed with `extra={...}` (feed, channel, delivery_id, counts, ...)."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the call's fields (`extra=`), exception."""

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        self.secrets = tuple(secrets)

    def format(self, record: logging.LogRecord) -> str:
        doc = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
               "level": record.levelname.lower(), "logger": record.name,
               "message": record.getMessage()}
        for key, value in fields(record).items():
            doc.setdefault(key, value)
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        line = scrub(json.dumps(doc, ensure_ascii=False, default=str), self.secrets)
        return json_safe(line)


def setup(fmt: str = "text", level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    """Log to stderr in `fmt`; `secrets` are masked wherever they appear in a record."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(secrets) if fmt == "json" else TextFormatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "apscheduler.executors", "apscheduler.scheduler", "trafilatura"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
