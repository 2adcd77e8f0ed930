"""Discord webhooks: `content` (the subject) and one embed per item, within Discord's limits.

Each embed: the rule as author, the title (cut at a word to fit 256 once escaped) linking to
the article, the snippet and other outlets as description, source and time as footer, red
for high priority. A message holds at most 10 embeds and 6,000 characters across them; the
packer (parts.py) splits a digest across messages and `content` says where the rest went.
Mentions are escaped in the text and disabled with `allowed_mentions: {parse: []}`. Must not send.
"""

from __future__ import annotations

from typing import Any

from monitor.deliver.digest import Digest, DigestItem, local_time, plain
from monitor.deliver.formats import chattext, limits
from monitor.deliver.formats.common import Format, fit, health_lines, link_url

esc = chattext.discord
HIGH_RED = 0xDC2626
UPDATED_BLUE = 0x1E40AF


def embed(d: Digest, i: DigestItem, section: str) -> dict[str, Any]:
    desc = []
    if i.updated:
        desc.append("**updated**")
    if i.snippet:
        desc.append(fit(plain(i.snippet), limits.SNIPPET_CHARS, esc))
    if i.also_reported_by:
        desc.append("Also reported by: " + fit(", ".join(s.source for s in i.also_reported_by[:5]), 300, esc))
    if len(i.rules) > 1:
        desc.append("Also matches: " + fit(", ".join(i.rule_titles[1:]), 300, esc))
    footer = " · ".join(x for x in (fit(i.source, limits.SOURCE_CHARS, esc),
                                    local_time(i.published, d.timezone) if i.published else "") if x)
    out: dict[str, Any] = {"author": {"name": fit(section, limits.DISCORD_AUTHOR - 8, esc)},
                           "title": fit(i.title, limits.DISCORD_TITLE, esc)}
    url = link_url(i)
    if url:
        out["url"] = url
    if desc:
        out["description"] = "\n".join(desc)[:limits.DISCORD_DESCRIPTION]
    if footer:
        out["footer"] = {"text": footer[:limits.DISCORD_FOOTER]}
    if i.published:
        out["timestamp"] = i.published.isoformat()
    if i.priority == "high":
        out["color"] = HIGH_RED
    elif i.updated:
        out["color"] = UPDATED_BLUE
    return out


def render(d: Digest) -> dict[str, Any]:
    lines = [f"**{fit(d.subject, 400, esc)}**"]
    lines += [f"⚠ {line}" for line in health_lines(d, esc)]
    if not d.items:
        lines.append("No new articles.")
    if d.rest_note:
        lines.append(f"… {d.rest_note}")
    content = "\n".join(lines)
    if len(content) > limits.DISCORD_CONTENT:
        tail = f"\n… {d.rest_note}" if d.rest_note else ""
        content = fit(content, limits.DISCORD_CONTENT - len(tail)) + tail
    embeds = [embed(d, i, g.title + (" (continued)" if g.continued and n == 0 else ""))
              for g in d.groups for n, i in enumerate(g.items)]
    return {"content": content, "embeds": embeds, "allowed_mentions": {"parse": []}}


def embed_chars(e: dict[str, Any]) -> int:
    """Characters Discord counts toward its 6,000 per message: title, description, footer, author, fields."""
    return (len(e.get("title", "")) + len(e.get("description", "")) + len(e.get("footer", {}).get("text", ""))
            + len(e.get("author", {}).get("name", ""))
            + sum(len(f.get("name", "")) + len(f.get("value", "")) for f in e.get("fields", [])))


def fits(payload: dict[str, Any]) -> bool:
    embeds = payload["embeds"]
    return len(embeds) <= limits.DISCORD_EMBEDS and sum(embed_chars(e) for e in embeds) <= limits.DISCORD_TOTAL


FORMAT = Format(render, fits)
