"""Feed documents -> ParsedFeed (first version)."""

from __future__ import annotations

import calendar
import html
import re
from datetime import UTC, datetime

import feedparser

from monitor.errors import FeedParseError
from monitor.models import Entry, ParsedFeed


def _text(s: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", s or "")).strip()


def _dt(t) -> datetime | None:
    return datetime.fromtimestamp(calendar.timegm(t), UTC) if t else None


def parse_feed(body: bytes, url: str, content_type: str = "", max_entries: int = 200) -> ParsedFeed:
    if body.lstrip()[:1] == b"{":
        import json
        doc = json.loads(body)
        entries = tuple(Entry(url, str(i.get("id") or i.get("url")), i.get("url", ""), i.get("title", ""),
                              _text(i.get("summary", "")), _text(i.get("content_text", "")),
                              published=datetime.fromisoformat(i["date_published"].replace("Z", "+00:00"))
                              if i.get("date_published") else None)
                        for i in doc.get("items", [])[:max_entries])
        return ParsedFeed(doc.get("title", ""), entries, format="json")
    d = feedparser.parse(body, response_headers={"content-location": url})
    if not d.entries and d.bozo:
        raise FeedParseError(str(d.bozo_exception))
    entries = tuple(Entry(url, e.get("id") or e.get("link", ""), e.get("link", ""), _text(e.get("title", "")),
                          _text(e.get("summary", "")), "", e.get("author", ""),
                          _dt(e.get("published_parsed")), _dt(e.get("updated_parsed")))
                    for e in d.entries[:max_entries])
    return ParsedFeed(d.feed.get("title", ""), entries, format=d.version)
