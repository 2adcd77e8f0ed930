"""Feeds out: every rule's matches as Atom (/rules/ID.atom) and JSON Feed 1.1 (/rules/ID.json).

Owns building both documents from a rule's latest matches: ElementTree for Atom (so
every value is escaped as XML) with the characters XML 1.0 forbids removed first, and
plain json for JSON Feed. Absolute links come from the request's base URL. Must not
hold SQL.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from monitor.deliver.digest import safe_href, snippet
from monitor.web import queries
from monitor.web.db import off_loop, reading

ATOM = "http://www.w3.org/2005/Atom"
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
ITEMS = 50


def xml_text(value: Any) -> str:
    """Text XML 1.0 can carry: control characters and lone surrogates dropped."""
    return NOT_XML.sub("", str(value or ""))


def _summary(item: dict) -> str:
    return "".join(s.text for s in snippet(item, item["hits"]))


async def _load(request: Request) -> tuple[Any, list[dict], str]:
    rule_id = request.path_params["rule_id"]
    ruleset, _ = await off_loop(request.app.state.rules.get)
    rule = next((r for r in ruleset.rules if r.id == rule_id), None) if ruleset else None

    def load() -> list[dict]:
        with reading(request.app.state.target) as conn:
            return queries.rule_feed(conn, rule_id, ITEMS)
    items = await off_loop(load)
    if rule is None and not items:
        raise HTTPException(404, f"no rule {rule_id!r}")
    return rule, items, str(request.base_url).rstrip("/")


def _updated(items: list[dict]) -> str:
    return items[0]["matched"] if items else "1970-01-01T00:00:00+00:00"


async def atom(request: Request) -> Response:
    rule, items, base = await _load(request)
    rule_id = request.path_params["rule_id"]
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, f"{{{ATOM}}}{tag}", {k: xml_text(v) for k, v in attrs.items()})
        if text is not None:
            el.text = xml_text(text)
        return el
    sub(feed, "id", f"{base}/rules/{rule_id}")
    sub(feed, "title", f"monitor: {rule.title if rule and rule.title else rule_id}")
    sub(feed, "updated", _updated(items))
    sub(feed, "link", href=f"{base}/rules/{rule_id}.atom", rel="self")
    sub(feed, "link", href=f"{base}/?rule={rule_id}", rel="alternate")
    sub(sub(feed, "author"), "name", "monitor")
    for it in items:
        entry = sub(feed, "entry")
        sub(entry, "id", f"{base}/articles/{it['id']}#{rule_id}")
        sub(entry, "title", it["title"] or "(no title)")
        sub(entry, "updated", it["matched"])
        if it["published"]:
            sub(entry, "published", it["published"])
        sub(entry, "link", href=safe_href(it["url"]) or f"{base}/articles/{it['id']}", rel="alternate")
        sub(entry, "link", href=f"{base}/articles/{it['id']}", rel="related")
        sub(entry, "summary", _summary(it), type="text")
        if it["source"]:
            sub(sub(entry, "author"), "name", it["source"])
    body = b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="utf-8", xml_declaration=False)
    return Response(body, media_type="application/atom+xml; charset=utf-8")


async def json_feed(request: Request) -> Response:
    rule, items, base = await _load(request)
    rule_id = request.path_params["rule_id"]
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": f"monitor: {rule.title if rule and rule.title else rule_id}",
        "home_page_url": f"{base}/?rule={rule_id}",
        "feed_url": f"{base}/rules/{rule_id}.json",
        "items": [{
            "id": f"{base}/articles/{it['id']}#{rule_id}",
            "url": safe_href(it["url"]) or f"{base}/articles/{it['id']}",
            "external_url": f"{base}/articles/{it['id']}",
            "title": it["title"] or "(no title)",
            "content_text": _summary(it),
            "date_published": it["published"] or it["matched"],
            "date_modified": it["matched"],
            "authors": [{"name": it["source"]}] if it["source"] else [],
        } for it in items],
    }
    return Response(json.dumps(doc, ensure_ascii=False), media_type="application/feed+json; charset=utf-8")


routes = [
    Route("/rules/{rule_id}.atom", atom),
    Route("/rules/{rule_id}.json", json_feed),
]
