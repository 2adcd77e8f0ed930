"""Why rules fired on a stored article, and its text cut into plain and highlighted pieces.

Owns turning a stored article row into the rule language's document, asking the rule
set to explain itself on it (monitor.match's explain: verdict, reason, and the `why`
where the match module gives one), and merging the hits of every rule into highlight
segments per field. Pure: takes rows and a RuleSet, returns dicts. Must not query.
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


def _hits(match: Any) -> list[dict]:
    return [{"field": h.field, "start": h.start, "end": h.end, "text": h.text} for h in match.hits]


def _why(rule: Any, match: Any, reason: str, extra: Any) -> list[str]:
    """Sentences saying why: the match module's `why` when it has one, else the reason and the terms hit."""
    why = getattr(match, "why", None) if match is not None else None
    if why is None and extra is not None:
        why = extra
    if why:
        return [str(w) for w in why] if isinstance(why, (list, tuple)) else [str(why)]
    if match is None:
        return [reason]
    terms = sorted({h.text for h in match.hits}, key=str.lower)
    out = [f"the query {rule.query!r} holds"]
    if terms:
        out.append("terms found: " + ", ".join(terms[:12]) + (" …" if len(terms) > 12 else ""))
    if rule.exclude:
        out.append(f"the exclude {rule.exclude!r} does not veto it")
    return out


def explain(ruleset: Any, row: dict, stored_rules: set[str]) -> tuple[list[dict], list[dict]]:
    """(rules that fire now or fired when stored, every other rule with its reason)."""
    if ruleset is None:
        return [], []
    doc = as_article(row)
    fired: list[dict] = []
    others: list[dict] = []
    for item in ruleset.explain(doc):
        rule, match, reason = item[0], item[1], item[2]
        extra = item[3] if len(item) > 3 else None
        entry = {"rule": rule.id, "title": rule.title, "priority": rule.priority, "fires": match is not None,
                 "reason": reason, "why": _why(rule, match, reason, extra),
                 "hits": _hits(match) if match is not None else [], "stored": rule.id in stored_rules}
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
