"""Grouping matched items into a digest and rendering it as text, HTML and JSON.

Owns the `DigestItem` and `Digest` records, story/rule grouping, snippets with the
matched terms highlighted, subjects, and the Jinja2 templates in monitor/templates.
Pure: takes outbox rows (plain dicts from the store) and returns records and strings.
Must not send, touch the store or read the clock.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import css_inline
import jinja2

from monitor.sanitize import strip_controls

SCHEMA = "monitor.digest/1"
PRIORITY_ORDER = {"high": 0, "normal": 1, "low": 2}
SNIPPET_BEFORE = 90      # characters of context shown before the first hit
SNIPPET_LENGTH = 320     # total snippet length, roughly two lines of a newsletter


@dataclass(frozen=True)
class Segment:
    """A piece of snippet or title text; `hit` marks a matched term."""

    text: str
    hit: bool = False


@dataclass(frozen=True)
class Source:
    source: str
    url: str


@dataclass(frozen=True)
class DigestItem:
    """One story in a digest: its first source, the rules it matched and who else reported it."""

    key: str                              # story key: "story:<id>" or "article:<id>"
    title: str
    url: str
    source: str
    published: datetime | None
    priority: str
    rules: tuple[str, ...]
    title_segments: tuple[Segment, ...]
    snippet: tuple[Segment, ...]
    from_feed: bool                       # text_source == "feed": shown "from the feed summary"
    also_reported_by: tuple[Source, ...] = ()
    outbox_ids: tuple[int, ...] = ()
    updated: bool = False                 # re-sent because the article was materially edited


@dataclass(frozen=True)
class RuleGroup:
    rule: str
    title: str
    items: tuple[DigestItem, ...]


@dataclass(frozen=True)
class FeedAlert:
    """A feed that has been failing for longer than `fetch.feed_alert_after_hours`."""

    url: str
    name: str
    failing_since: datetime
    failures: int
    error: str


@dataclass(frozen=True)
class Digest:
    """What one delivery carries to one channel."""

    channel: str
    created: datetime
    timezone: str
    groups: tuple[RuleGroup, ...]
    kind: str = "digest"                  # "digest" or "alert"
    more: int = 0                         # stories left pending for the next digest
    delivery_id: str = ""
    subject: str = field(default="")
    feed_alerts: tuple[FeedAlert, ...] = ()   # scheduled digests only: feeds failing too long

    @property
    def items(self) -> tuple[DigestItem, ...]:
        return tuple(i for g in self.groups for i in g.items)

    @property
    def outbox_ids(self) -> tuple[int, ...]:
        return tuple(o for i in self.items for o in i.outbox_ids)


# -- grouping ------------------------------------------------------------------

def story_key(row: dict) -> str:
    return f"story:{row['story_id']}" if row.get("story_id") else f"article:{row['id']}"


def _row_rank(row: dict) -> tuple:
    return (PRIORITY_ORDER.get(row.get("priority", "normal"), 1), row.get("outbox_id", 0))


def select_rows(rows: list[dict], max_items: int) -> tuple[list[dict], int]:
    """The rows of the first `max_items` stories (most urgent first) and how many stories wait.

    Every row of a chosen story goes with it, so a story is never split across digests.
    """
    order: list[str] = []
    best: dict[str, tuple] = {}
    for r in rows:
        k = story_key(r)
        if k not in best:
            order.append(k)
        best[k] = min(best.get(k, _row_rank(r)), _row_rank(r))
    ranked = sorted(order, key=lambda k: best[k])
    chosen = set(ranked[:max_items]) if max_items > 0 else set(ranked)
    return [r for r in rows if story_key(r) in chosen], len(ranked) - len(chosen)


def build_digest(rows: list[dict], *, channel: str, created: datetime, timezone: str = "UTC",
                 kind: str = "digest", more: int = 0, delivery_id: str = "",
                 story_sources: dict[int, list[dict]] | None = None,
                 feed_alerts: tuple[FeedAlert, ...] = ()) -> Digest:
    """Group outbox rows into one entry per story, in sections per rule."""
    by_story: dict[str, list[dict]] = {}
    for r in rows:
        by_story.setdefault(story_key(r), []).append(r)
    items = [_item(k, rs, (story_sources or {}).get(rs[0].get("story_id") or -1, []))
             for k, rs in by_story.items()]
    sections: dict[str, list[DigestItem]] = {}
    titles: dict[str, str] = {}
    for r in rows:
        titles.setdefault(r["rule"], r.get("rule_title") or r["rule"])
    for item in sorted(items, key=lambda i: (PRIORITY_ORDER.get(i.priority, 1), _sort_time(i))):
        sections.setdefault(item.rules[0], []).append(item)
    groups = tuple(RuleGroup(rule, titles.get(rule, rule), tuple(its))
                   for rule, its in sorted(sections.items(), key=lambda kv: (-len(kv[1]), kv[0])))
    digest = Digest(channel=channel, created=created, timezone=timezone, groups=groups, kind=kind,
                    more=more, delivery_id=delivery_id, feed_alerts=feed_alerts)
    return replace(digest, subject=subject(digest))


def _sort_time(item: DigestItem) -> float:
    return -item.published.timestamp() if item.published else 0.0


def _item(key: str, rows: list[dict], related: list[dict]) -> DigestItem:
    # an outlet's own copy leads before any item held to another feed (dedupe.item_url's "#via=")
    rows = sorted(rows, key=lambda r: ("#via=" in (r.get("url") or ""), r.get("published") or "9999", r["id"]))
    first = rows[0]
    rules = sorted({r["rule"] for r in rows}, key=lambda rule: min(
        _row_rank(r) for r in rows if r["rule"] == rule))
    hits = [h for r in rows if r["id"] == first["id"] for h in _hits(r)]
    others: dict[str, Source] = {}
    for r in [*rows[1:], *related]:
        url, src = r.get("url") or "", r.get("source") or r.get("feed_url") or ""
        if url and url != first["url"] and src != first.get("source") and src not in others:
            others[src] = Source(src, url)
    return DigestItem(
        key=key, title=first.get("title") or first["url"], url=first["url"],
        source=first.get("source") or first.get("feed_url") or "",
        published=datetime.fromisoformat(first["published"]) if first.get("published") else None,
        priority=min((r["priority"] for r in rows), key=lambda p: PRIORITY_ORDER.get(p, 1)),
        rules=tuple(rules),
        title_segments=highlight(first.get("title") or first["url"], [h for h in hits if h["field"] == "title"]),
        snippet=snippet(first, hits),
        from_feed=first.get("text_source") == "feed",
        also_reported_by=tuple(others.values()),
        outbox_ids=tuple(r["outbox_id"] for r in rows if "outbox_id" in r),
        updated=bool(first.get("updated")),
    )


def _hits(row: dict) -> list[dict]:
    raw = row.get("hits") or "[]"
    return list(json.loads(raw) if isinstance(raw, str) else raw)


# -- snippets ------------------------------------------------------------------

def _valid(text: str, hits: list[dict]) -> list[tuple[int, int]]:
    """Hit spans that really lie in `text`, sorted and without overlaps."""
    spans = sorted((h["start"], h["end"]) for h in hits
                   if 0 <= h["start"] < h["end"] <= len(text))
    out: list[tuple[int, int]] = []
    for s, e in spans:
        if out and s < out[-1][1]:
            out[-1] = (out[-1][0], max(e, out[-1][1]))
        else:
            out.append((s, e))
    return out


def highlight(text: str, hits: list[dict], lo: int = 0, hi: int | None = None) -> tuple[Segment, ...]:
    """Split text[lo:hi] into plain and hit segments."""
    hi = len(text) if hi is None else hi
    segs: list[Segment] = []
    pos = lo
    for s, e in _valid(text, hits):
        if e <= lo or s >= hi:
            continue
        s, e = max(s, lo), min(e, hi)
        if s > pos:
            segs.append(Segment(text[pos:s]))
        segs.append(Segment(text[s:e], True))
        pos = e
    if pos < hi:
        segs.append(Segment(text[pos:hi]))
    return tuple(segs)


def snippet(row: dict, hits: list[dict]) -> tuple[Segment, ...]:
    """A window of body text around the first hits, or the start of the summary."""
    body_hits = [h for h in hits if h["field"] in ("text", "summary")]
    for fld in ("text", "summary"):
        text = row.get(fld) or ""
        spans = _valid(text, [h for h in body_hits if h["field"] == fld])
        if spans:
            lo = _word_start(text, max(0, spans[0][0] - SNIPPET_BEFORE))
            hi = _word_end(text, min(len(text), lo + SNIPPET_LENGTH))
            segs = highlight(text, [h for h in body_hits if h["field"] == fld], lo, hi)
            return _ellipsize(segs, lo > 0, hi < len(text))
    text = row.get("summary") or row.get("text") or ""
    hi = _word_end(text, min(len(text), SNIPPET_LENGTH))
    return _ellipsize((Segment(text[:hi]),), False, hi < len(text)) if text else ()


def _word_start(text: str, i: int) -> int:
    if i == 0:
        return 0
    j = text.find(" ", i)
    return j + 1 if 0 <= j < i + 20 else i


def _word_end(text: str, i: int) -> int:
    if i >= len(text):
        return len(text)
    j = text.rfind(" ", i - 20, i)
    return j if j > 0 else i


_SPACES = re.compile(r"\s+")


def _ellipsize(segs: tuple[Segment, ...], head: bool, tail: bool) -> tuple[Segment, ...]:
    # Collapse runs of whitespace (extracted text keeps newlines) but keep the single spaces
    # that separate a hit from its neighbours.
    segs = tuple(Segment(_SPACES.sub(" ", s.text), s.hit) for s in segs)
    return ((Segment("… "),) if head else ()) + segs + ((Segment(" …"),) if tail else ())


def plain(segs: tuple[Segment, ...]) -> str:
    return "".join(s.text for s in segs)


def text_snippet(segs: tuple[Segment, ...]) -> str:
    """The snippet for plain-text mail: hits as *term*, wrapped and indented under the title."""
    text = "".join(f"*{s.text}*" if s.hit else s.text for s in segs)
    return textwrap.fill(text, width=78, initial_indent="  ", subsequent_indent="  ",
                         break_long_words=False, break_on_hyphens=False)


# -- subjects and rendering ----------------------------------------------------

def subject(d: Digest) -> str:
    """Say what is inside: counts per rule, or the story itself for a single alert."""
    items = d.items
    failing = f", {len(d.feed_alerts)} feed{'s' if len(d.feed_alerts) > 1 else ''} failing" if d.feed_alerts else ""
    if not items:
        return f"monitor: no new articles{failing}"
    if d.kind == "alert" and len(items) == 1:
        return f"monitor alert [{items[0].rules[0]}]: {items[0].title}"[:200]
    counts = Counter(i.rules[0] for i in items)
    parts = ", ".join(f"{rule} {n}" for rule, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    noun = "article" if len(items) == 1 else "articles"
    prefix = "monitor alert" if d.kind == "alert" else "monitor"
    more = f" (+{d.more} more)" if d.more else ""
    return f"{prefix}: {len(items)} new {noun}{more} - {parts}{failing}"[:200]


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
    return {"d": d, "tz": d.timezone, "when": lambda t: local_time(t, d.timezone),
            "created": local_time(d.created, d.timezone)}


def render_text(d: Digest) -> str:
    """The plain-text digest (mail text part, Apprise, `digest --preview`): no control characters."""
    return strip_controls(_env().get_template("digest.txt").render(**_context(d)))


def render_html(d: Digest) -> str:
    """The newsletter HTML with its CSS inlined, since many mail clients drop <style>."""
    html = _env().get_template("digest.html").render(**_context(d))
    return css_inline.inline(html)


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
    }
