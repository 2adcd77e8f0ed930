"""Slack incoming webhooks: Block Kit `blocks` plus a `text` fallback, within Slack's limits.

One header block (the subject, cut at a word to 150), the feed-health notice, then per rule a
section whose lines are the items (`• <url|title> · source · time`); a rule with more lines
than fit in 3,000 characters goes on in further sections, never cut inside a line or link. A
message holds at most 50 blocks; the packer (parts.py) splits a digest across messages.
Publisher text is escaped for mrkdwn (chattext.slack). Must not send.
"""

from __future__ import annotations

from typing import Any

from monitor.deliver.digest import Digest, DigestItem
from monitor.deliver.formats import chattext, limits
from monitor.deliver.formats.common import Format, details, fit, health_lines, link_url
from monitor.deliver.textcut import cut_words

esc = chattext.slack


def item_line(d: Digest, i: DigestItem) -> str:
    title = fit(i.title, limits.TITLE_CHARS, esc)
    url = link_url(i)
    head = f"<{chattext.url_for_slack(url)}|{title}>" if url else title
    return " · ".join([f"• {head}", *details(d, i, esc)])


def _sections(heading: str, lines: list[str]) -> list[dict]:
    blocks, text = [], heading
    for line in lines:
        if len(text) + 1 + len(line) > limits.SLACK_SECTION:
            blocks.append(text)
            text = fit(heading, 200) + " (continued)"
        text += "\n" + line
    blocks.append(text)
    return [{"type": "section", "text": {"type": "mrkdwn", "text": t[:limits.SLACK_SECTION]}} for t in blocks]


def render(d: Digest) -> dict[str, Any]:
    blocks: list[dict] = [{"type": "header", "text": {"type": "plain_text", "emoji": False,
                                                      "text": cut_words(d.subject, limits.SLACK_HEADER)}}]
    if d.feed_alerts:
        blocks += _sections(f":warning: *Feed health* ({len(d.feed_alerts)} failing)",
                            [f"• {line}" for line in health_lines(d, esc)])
    for g in d.groups:
        heading = f"*{fit(g.title, 200, esc)}*" + (" (continued)" if g.continued else "") + f" ({len(g.items)})"
        blocks += _sections(heading, [item_line(d, i) for i in g.items])
    if not d.items:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "No new articles."}})
    if d.rest_note:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"… {d.rest_note}"}]})
    return {"text": cut_words(esc(d.subject), limits.SLACK_TEXT), "blocks": blocks}


def fits(payload: dict[str, Any]) -> bool:
    return len(payload["blocks"]) <= limits.SLACK_BLOCKS


FORMAT = Format(render, fits)
