"""Mattermost incoming webhooks: one Markdown `text` of at most 16,383 characters per post.

The layout is formats/markdown.py's; a digest that does not fit is split into posts by the
packer (parts.py). Must not send.
"""

from __future__ import annotations

from typing import Any

from monitor.deliver.digest import Digest
from monitor.deliver.formats import limits, markdown
from monitor.deliver.formats.common import Format


def render(d: Digest) -> dict[str, Any]:
    return {"text": "\n".join(markdown.lines(d))}


def fits(payload: dict[str, Any]) -> bool:
    return len(payload["text"]) <= limits.MATTERMOST_TEXT


FORMAT = Format(render, fits)
