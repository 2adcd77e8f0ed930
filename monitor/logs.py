"""Logging set-up: one line per event, as text or as JSON objects (config `logging.format`).

Owns the log format, and that nothing in a record can take over the terminal or the log
file: the text format strips control characters (ESC, BEL, CR, C1 ...) and indents
continuation lines, so a publisher's newline cannot forge a record of its own; the JSON
format escapes them. Credentials the config carries or names (webhook URLs, passwords,
see redact.py) are masked in both. Modules log through `logging.getLogger("monitor.<module>")`.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

from monitor.redact import scrub
from monitor.sanitize import log_text

# json.dumps(ensure_ascii=False) leaves DEL, the C1 controls and U+2028/U+2029 raw
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029]")


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message`, control characters out, credentials masked."""

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        self.secrets = tuple(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return log_text(scrub(super().format(record), self.secrets))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the exception, if any)."""

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        self.secrets = tuple(secrets)

    def format(self, record: logging.LogRecord) -> str:
        doc = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
               "level": record.levelname.lower(), "logger": record.name,
               "message": scrub(record.getMessage(), self.secrets)}
        if record.exc_info:
            doc["exception"] = scrub(self.formatException(record.exc_info), self.secrets)
        line = json.dumps(doc, ensure_ascii=False)
        return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", line)


def setup(fmt: str = "text", level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    """Log to stderr in `fmt`; `secrets` are masked wherever they appear in a record."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(secrets) if fmt == "json" else TextFormatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "apscheduler.executors", "apscheduler.scheduler", "trafilatura"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
