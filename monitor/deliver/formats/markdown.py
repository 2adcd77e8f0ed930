"""The Markdown digest shared by Mattermost and the legacy Teams card: escaped, one line per item.

Owns `lines(d)`: the subject, feed health, per rule a bold heading and `- [title](url) · source
· time` lines, and where the rest went; every publisher string escaped by chattext.markdown
(no mentions, no injected links). Must not send.
"""

from __future__ import annotations

from monitor.deliver.digest import Digest, DigestItem
from monitor.deliver.formats import chattext, limits
from monitor.deliver.formats.common import details, fit, health_lines, link_url

esc = chattext.markdown


def item_line(d: Digest, i: DigestItem) -> str:
    title = fit(i.title, limits.TITLE_CHARS, esc)
    url = link_url(i)
    head = f"[{title}]({chattext.url_for_markdown(url)})" if url else title
    return " · ".join([f"- {head}", *details(d, i, esc)])


def lines(d: Digest) -> list[str]:
    out = [f"**{fit(d.subject, 400, esc)}**"]
    if d.feed_alerts:
        out.append(f"\n**Feed health** ({len(d.feed_alerts)} failing)")
        out += [f"- {line}" for line in health_lines(d, esc)]
    for g in d.groups:
        out.append(f"\n**{fit(g.title, 200, esc)}**" + (" (continued)" if g.continued else "") + f" ({len(g.items)})")
        out += [item_line(d, i) for i in g.items]
    if not d.items:
        out.append("\nNo new articles.")
    if d.rest_note:
        out.append(f"\n… {d.rest_note}")
    return out
