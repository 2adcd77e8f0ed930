"""Rendering a digest as plain text, HTML (templates in monitor/deliver/templates/) and the
versioned JSON document (schema monitor.digest/1).

Owns the Jinja2 environment (autoescaped HTML), times in the digest's zone, and `safe_href`
(only http(s) links go live). Pure. Must not group, order or send.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import jinja2

from monitor.deliver.snippets import plain, text_snippet
from monitor.sanitize import strip_controls

if TYPE_CHECKING:      # digest.py re-exports this module's functions, so no runtime import back
    from monitor.deliver.digest import Digest, DigestItem

SCHEMA = "monitor.digest/1"


def local_time(t: datetime | None, tz: str) -> str:
    return t.astimezone(ZoneInfo(tz)).strftime("%a %d %b %H:%M %Z") if t else ""


def safe_href(url: str) -> str:
    """The URL for an href if it is http(s), else "#": a feed's javascript:/data: link must not go live."""
    try:
        scheme = urlsplit(url or "").scheme.lower()    # urlsplit drops the tabs and spaces browsers ignore
    except ValueError:
        return "#"
    return url.strip() if scheme in ("http", "https") else "#"


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("monitor.deliver", "templates"),
        autoescape=jinja2.select_autoescape(["html"], default_for_string=False),
        trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined,
    )
    env.filters["plain"] = plain
    env.filters["text_snippet"] = text_snippet
    env.filters["href"] = safe_href
    return env


def _context(d: Digest) -> dict[str, Any]:
    return {"d": d, "tz": d.timezone, "toc": len(d.groups) > 1, "when": lambda t: local_time(t, d.timezone),
            "created": local_time(d.created, d.timezone)}


def render_text(d: Digest) -> str:
    """The plain-text digest (mail text part, Apprise, `digest --preview`): no control characters."""
    return strip_controls(_env().get_template("digest.txt").render(**_context(d)))


def render_html(d: Digest) -> str:
    """The newsletter HTML: one <style> block, inline style only where a client that drops
    <style> would lose meaning (the high-priority mark), hits as <b>, a table of contents
    when there is more than one section. Kept small: Gmail clips messages over ~102 KB."""
    return _env().get_template("digest.html").render(**_context(d))


def to_json(d: Digest) -> dict[str, Any]:
    """The versioned digest document (schema monitor.digest/1, see docs/delivery.md)."""
    return {
        "schema": SCHEMA,
        "delivery_id": d.delivery_id,
        "channel": d.channel,
        "kind": d.kind,
        "created": d.created.isoformat(),
        "timezone": d.timezone,
        "subject": d.subject,
        "count": len(d.items),
        "more": d.more,
        "rules": [{"rule": g.rule, "title": g.title, "count": len(g.items)} for g in d.groups],
        "items": [_item_json(i) for i in d.items],
        "feed_alerts": [{"url": a.url, "name": a.name, "failing_since": a.failing_since.isoformat(),
                         "failures": a.failures, "error": a.error} for a in d.feed_alerts],
    }


def _item_json(i: DigestItem) -> dict[str, Any]:
    text, marks, pos = "", [], 0
    for s in i.snippet:
        if s.hit:
            marks.append([pos, pos + len(s.text)])
        text += s.text
        pos += len(s.text)
    return {
        "title": i.title, "url": i.url, "source": i.source,
        "published": i.published.isoformat() if i.published else None,
        "priority": i.priority, "rules": list(i.rules),
        "snippet": text, "highlights": marks,
        "text_source": "feed" if i.from_feed else "page",
        "updated": i.updated,
        "also_reported_by": [{"source": s.source, "url": s.url} for s in i.also_reported_by],
        "related_coverage": [{"source": s.source, "url": s.url, "title": s.title} for s in i.related_coverage],
    }
