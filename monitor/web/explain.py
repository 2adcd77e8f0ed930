"""Why rules fired on a stored article, and its text cut into plain and highlighted pieces.

Owns turning a stored article row into the rule language's document, asking the rule
set to explain itself on it (monitor.match's explain: verdict, reason, and each
match's `why`: the satisfied clauses with their decisive hits), and merging the
decisive hits of every rule into highlight segments per field. Pure: takes rows and a RuleSet, returns dicts. Must not query.
"""

from __future__ import annotations

import json
from typing import Any

from monitor.deliver.digest import Segment, highlight
from monitor.models import Article

FIELDS = ("title", "summary", "text")


def as_article(row: dict) -> Article:
    tags = row.get("feed_tags") or ()
    if isinstance(tags, str):
        tags = json.loads(tags) if tags.startswith("[") else [tags]
    return Article(url=row.get("url") or "", feed_url=row.get("feed_url") or "", guid=row.get("guid") or "",
                   title=row.get("title") or "", summary=row.get("summary") or "", text=row.get("text") or "",
                   language=row.get("language") or "", source=row.get("source") or "", feed_tags=tuple(tags))


def _hit_dict(h: Any) -> dict:
    return {"field": h.field, "start": h.start, "end": h.end, "text": h.text}


def _why(match: Any) -> list[dict]:
    """The match module's `why`: each satisfied clause in the rule's words with its decisive hits."""
    out = []
    for w in getattr(match, "why", ()) or ():
        out.append({"clause": w.clause, "hits": sorted({h.text for h in w.all_hits()}, key=str.lower)[:12],
                    "sides": [{"clause": s.clause, "hits": sorted({h.text for h in s.all_hits()}, key=str.lower)[:8]}
                              for s in w.sides]})
    return out


def decisive(match: Any) -> list[dict]:
    """The hits that decided the match (all hits when the match names none)."""
    chosen = match.decisive_hits() if hasattr(match, "decisive_hits") else frozenset()
    return [_hit_dict(h) for h in (chosen or match.hits)]


def explain(ruleset: Any, row: dict, stored_rules: set[str]) -> tuple[list[dict], list[dict]]:
    """(rules that fire now or fired when stored, every other rule with its reason)."""
    if ruleset is None:
        return [], []
    doc = as_article(row)
    fired: list[dict] = []
    others: list[dict] = []
    for rule, match, reason in ruleset.explain(doc):
        entry = {"rule": rule.id, "title": rule.title, "priority": rule.priority, "fires": match is not None,
                 "reason": reason, "query": rule.query, "exclude": rule.exclude,
                 "why": _why(match) if match is not None else [],
                 "hits": decisive(match) if match is not None else [],
                 "hit_count": (match.hit_count or len(match.hits)) if match is not None else 0,
                 "stored": rule.id in stored_rules}
        (fired if match is not None or rule.id in stored_rules else others).append(entry)
    return fired, others


def segments(row: dict, hit_lists: list[list[dict]]) -> dict[str, tuple[Segment, ...]]:
    """Each field's text with every given hit highlighted (overlaps merged)."""
    merged: dict[str, list[dict]] = {f: [] for f in FIELDS}
    for hits in hit_lists:
        for h in hits:
            if h.get("field") in merged:
                merged[h["field"]].append(h)
    out = {}
    for f in FIELDS:
        text = row.get(f) or ""
        out[f] = highlight(text, merged[f]) if text else ()
    return out
