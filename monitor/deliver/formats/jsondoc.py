"""The `json` webhook format: the versioned monitor.digest/1 document, always one message.

A receiver of our own schema has no documented size limit, so the document is never split.
Must not send.
"""

from __future__ import annotations

from typing import Any

from monitor.deliver.digest import to_json
from monitor.deliver.formats.common import Format


def fits(payload: dict[str, Any]) -> bool:
    return True


FORMAT = Format(to_json, fits, chat=False)
