"""Microsoft Teams: `teams` = an Adaptive Card for a Workflows webhook; `teams-legacy` = the
retired Office 365 connector's MessageCard. Both within Teams' ~28 KB per message.

The Adaptive Card (version 1.4, in a `message` with one attachment of content type
`application/vnd.microsoft.card.adaptive`) has the subject as a bold TextBlock, per rule a
heading, per item a TextBlock `[title](url)` and a subtle line with source and time. Teams
counts bytes of the whole body: `fits` measures the serialised JSON. Publisher text is
escaped (chattext.markdown). Must not send.
"""

from __future__ import annotations

import json
from typing import Any

from monitor.deliver.digest import Digest, DigestItem
from monitor.deliver.formats import chattext, limits, markdown
from monitor.deliver.formats.common import Format, details, fit, health_lines, link_url
from monitor.deliver.textcut import utf8_len

esc = chattext.markdown
CARD = "application/vnd.microsoft.card.adaptive"


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _item(d: Digest, i: DigestItem) -> list[dict[str, Any]]:
    title = fit(i.title, limits.TITLE_CHARS, esc)
    url = link_url(i)
    head = f"[{title}]({chattext.url_for_markdown(url)})" if url else title
    return [_text(head, weight="Bolder" if i.priority == "high" else "Default"),
            _text(" · ".join(details(d, i, esc)), isSubtle=True, spacing="None", size="Small")]


def render(d: Digest) -> dict[str, Any]:
    body: list[dict[str, Any]] = [_text(fit(d.subject, 400, esc), weight="Bolder", size="Medium")]
    if d.feed_alerts:
        body.append(_text(f"Feed health ({len(d.feed_alerts)} failing)", weight="Bolder", color="Attention"))
        body += [_text(line, size="Small") for line in health_lines(d, esc)]
    for g in d.groups:
        body.append(_text(fit(g.title, 200, esc) + (" (continued)" if g.continued else "") + f" ({len(g.items)})",
                          weight="Bolder", spacing="Large", separator=True))
        for i in g.items:
            body += _item(d, i)
    if not d.items:
        body.append(_text("No new articles."))
    if d.rest_note:
        body.append(_text(f"… {d.rest_note}", isSubtle=True))
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
            "version": "1.4", "msteams": {"width": "Full"}, "body": body}
    return {"type": "message", "attachments": [{"contentType": CARD, "contentUrl": None, "content": card}]}


def legacy(d: Digest) -> dict[str, Any]:
    return {"@type": "MessageCard", "@context": "https://schema.org/extensions",
            "summary": chattext.plain(d.subject)[:200], "title": fit(d.subject, 400, esc),
            "text": "\n\n".join(markdown.lines(d)[1:])}


def size(payload: dict[str, Any]) -> int:
    return utf8_len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")))


def fits(payload: dict[str, Any]) -> bool:
    return size(payload) <= limits.TEAMS_BUDGET


FORMAT = Format(render, fits)
LEGACY = Format(legacy, fits)
