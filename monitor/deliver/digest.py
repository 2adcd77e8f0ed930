"""Grouping matched items into a digest, in delivery order.

Owns story/rule grouping (the `DigestItem` and `Digest` records are in deliver/items.py,
re-exported here), the one delivery order
(high priority first, then normal, then low; within a priority by rule title, then newest
first), subjects and the parts of a split digest (`part_digest`); rendering is render.py's. Publisher text is made single-line here (`one_line`) before any
format sees it. Pure: takes outbox rows (plain dicts from the store) and returns records and
strings. Must not send, touch the store or read the clock.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import datetime

from monitor.deliver.items import Digest, DigestItem, FeedAlert, RuleGroup, Source, section_key
from monitor.deliver.snippets import Segment, highlight, plain, snippet, text_snippet
from monitor.deliver.textcut import cut_words
from monitor.sanitize import one_line

__all__ = ["Digest", "DigestItem", "FeedAlert", "RuleGroup", "Source", "section_key",
           "Segment", "highlight", "snippet", "plain", "text_snippet"]

PRIORITY_ORDER = {"high": 0, "normal": 1, "low": 2}
SUBJECT_MAX = 200        # characters; cut at a word, the health notice and part label kept


# -- grouping and order -----------------------------------------------------------

def story_key(row: dict) -> str:
    return f"story:{row['story_id']}" if row.get("story_id") else f"article:{row['id']}"


def _rank(priority: str | None) -> int:
    return PRIORITY_ORDER.get(priority or "normal", 1)


def _row_rank(row: dict) -> tuple:
    return (_rank(row.get("priority")), row.get("outbox_id", 0))


def select_rows(rows: list[dict], max_items: int) -> tuple[list[dict], int]:
    """The rows of the first `max_items` stories (most urgent, then oldest first) and how many stories wait.

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
    """Group outbox rows into one entry per story, in sections per rule, in delivery order.

    Items: by priority (the most urgent of their rows), then the title of their first rule
    (their most urgent, ties by title), then newest first; a section is a run of items of one
    priority and first rule. An item is listed once and names every rule it matched.
    """
    titles: dict[str, str] = {}
    rank: dict[str, int] = {}
    for r in rows:
        titles.setdefault(r["rule"], one_line(r.get("rule_title") or "") or r["rule"])
        rank[r["rule"]] = min(rank.get(r["rule"], 9), _rank(r.get("priority")))
    by_story: dict[str, list[dict]] = {}
    for r in rows:
        by_story.setdefault(story_key(r), []).append(r)

    def rule_order(rule: str) -> tuple:
        return (rank.get(rule, 1), titles.get(rule, rule).casefold(), rule)

    items = [_item(k, rs, (story_sources or {}).get(rs[0].get("story_id") or -1, []), rule_order, titles)
             for k, rs in by_story.items()]
    sections: dict[tuple[str, str], list[DigestItem]] = {}
    for item in sorted(items, key=lambda i: (_rank(i.priority), rule_order(i.rules[0]), _sort_time(i), i.key)):
        sections.setdefault((item.priority, item.rules[0]), []).append(item)
    groups = tuple(RuleGroup(rule, titles.get(rule, rule), tuple(its), priority=prio)
                   for (prio, rule), its in sections.items())
    digest = Digest(channel=channel, created=created, timezone=timezone, groups=groups, kind=kind,
                    more=more, delivery_id=delivery_id, feed_alerts=feed_alerts,
                    total_items=sum(len(g.items) for g in groups))
    return replace(digest, subject=subject(digest))


def part_digest(d: Digest, keys: set[str] | frozenset[str], part: int, parts: int,
                started: set[str] | frozenset[str] = frozenset()) -> Digest:
    """The part of `d` holding the items whose key is in `keys`, keeping their order and sections.

    `started` names the sections an earlier part already opened (they show as continued).
    The feed-health section goes in the first part only; every part's subject is the whole
    digest's, labelled "part N of M".
    """
    groups = tuple(replace(g, items=tuple(i for i in g.items if i.key in keys), continued=g.key in started)
                   for g in d.groups)
    sub = replace(d, groups=tuple(g for g in groups if g.items), part=part, parts=parts,
                  feed_alerts=d.feed_alerts if part == 1 else ())
    return replace(sub, subject=subject(d, f"part {part} of {parts}") if parts > 1 else d.subject)


def _sort_time(item: DigestItem) -> float:
    return -item.published.timestamp() if item.published else 0.0


def _flat(segs: tuple[Segment, ...]) -> tuple[Segment, ...]:
    """Segments on one line: line breaks and controls as spaces (a title goes into subjects)."""
    out = []
    for s in segs:
        text = one_line(s.text)
        if text and s.text[:1].isspace():
            text = " " + text
        if text and s.text[-1:].isspace():
            text += " "
        if text or not s.text:
            out.append(Segment(text or s.text, s.hit))
        elif out:
            out.append(Segment(" "))
    return tuple(out)


def _item(key: str, rows: list[dict], related: list[dict], rule_order, titles: dict[str, str]) -> DigestItem:
    # an outlet's own copy leads before any item held to another feed (dedupe.item_url's "#via=")
    rows = sorted(rows, key=lambda r: ("#via=" in (r.get("url") or ""), r.get("published") or "9999", r["id"]))
    first = rows[0]
    rules = sorted({r["rule"] for r in rows}, key=rule_order)
    hits = [h for r in rows if r["id"] == first["id"] for h in _hits(r)]
    source = one_line(first.get("source") or first.get("feed_url") or "")
    others: dict[str, Source] = {}
    coverage: dict[str, Source] = {}
    for r in [*rows[1:], *related]:
        url, src = r.get("url") or "", one_line(r.get("source") or r.get("feed_url") or "")
        if not url or url == first["url"]:
            continue
        # related coverage goes both ways: when the item shows the related report (it was
        # published earlier), the story's first article is the other outlet's own version
        if "related" in (r.get("story_level"), first.get("story_level")) and r.get("story_level") != "copy":
            coverage.setdefault(url, Source(src, url, one_line(r.get("title") or url)))
        elif src != source and src not in others:
            others[src] = Source(src, url)
    raw_title = first.get("title") or first["url"]
    return DigestItem(
        key=key, title=one_line(raw_title) or first["url"], url=first["url"].strip(),
        source=source,
        published=datetime.fromisoformat(first["published"]) if first.get("published") else None,
        priority=min((r["priority"] for r in rows), key=_rank),
        rules=tuple(rules),
        title_segments=_flat(highlight(raw_title, [h for h in hits if h["field"] == "title"])),
        snippet=snippet(first, hits),
        from_feed=first.get("text_source") == "feed",
        also_reported_by=tuple(others.values()),
        related_coverage=tuple(coverage.values()),
        outbox_ids=tuple(r["outbox_id"] for r in rows if "outbox_id" in r),
        updated=bool(first.get("updated")),
        rule_titles=tuple(titles.get(r, r) for r in rules),
    )


def _hits(row: dict) -> list[dict]:
    """The hits to highlight: the decisive ones (of the clauses that fired the rule) when the
    match marks them, else every hit (matches stored before the rule language v2)."""
    raw = row.get("hits") or "[]"
    hits = list(json.loads(raw) if isinstance(raw, str) else raw)
    return [h for h in hits if h.get("decisive")] or hits


# -- subjects and rendering ----------------------------------------------------

def health_notice(alerts: tuple[FeedAlert, ...]) -> str:
    return f", {len(alerts)} feed{'s' if len(alerts) > 1 else ''} failing" if alerts else ""


def subject(d: Digest, label: str = "") -> str:
    """Say what is inside (rule titles, or the story itself for a single alert), on one line.

    Cut at a word to SUBJECT_MAX; the feed-health notice and `label` ("part 2 of 3") are kept whole.
    """
    items = d.items
    tail = health_notice(d.feed_alerts) + (f" ({label})" if label else "")
    room = SUBJECT_MAX - len(tail)
    if not items:
        return cut_words("monitor: no new articles", room) + tail
    if d.kind == "alert" and len(items) == 1:
        i = items[0]
        return cut_words(f"monitor alert [{i.rule_titles[0] if i.rule_titles else i.rules[0]}]: {i.title}",
                         room) + tail
    counts = Counter(g.title for g in d.groups for _ in g.items)
    order = list(dict.fromkeys(g.title for g in d.groups))
    noun = "article" if len(items) == 1 else "articles"
    prefix = "monitor alert" if d.kind == "alert" else "monitor"
    more = f" (+{d.more} more)" if d.more else ""
    head = f"{prefix}: {len(items)} new {noun}{more} - "
    shown: list[str] = []
    used = len(head)
    for title in order:
        piece = f"{title} {counts[title]}"
        if shown and used + len(piece) + 2 + 16 > room:
            break
        shown.append(piece)
        used += len(piece) + 2
    if len(shown) < len(order):
        left = len(order) - len(shown)
        shown.append(f"+{left} other rule{'s' if left > 1 else ''}")
    return cut_words(one_line(head + ", ".join(shown)), room) + tail


# Rendering lives in render.py; these names stay importable from here for callers of old.
from monitor.deliver.render import SCHEMA, local_time, render_html, render_text, safe_href, to_json  # noqa: E402

__all__ += ["SCHEMA", "local_time", "render_html", "render_text", "safe_href", "to_json"]
