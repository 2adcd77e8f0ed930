"""Digest HTML against hostile feed values: markup escaped, only http(s) links become hrefs."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import lxml.html
import pytest

from monitor.deliver.digest import build_digest, render_html, safe_href

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("url", "href"), [
    ("https://n.example/a?b=1", "https://n.example/a?b=1"),
    ("HTTP://n.example/a", "HTTP://n.example/a"),
    ("javascript:alert(1)", "#"),
    (" JaVaScRiPt:alert(1)", "#"),
    ("java\tscript:alert(1)", "#"),
    ("data:text/html,<script>alert(1)</script>", "#"),
    ("vbscript:msgbox(1)", "#"),
    ("urn:uuid:1234", "#"),
    ("", "#"),
    ("http://[::1", "#"),
])
def test_safe_href(url, href):
    assert safe_href(url) == href


def row(i: int, url: str, title: str, story: int | None = None, source: str = "Src") -> dict:
    return {"outbox_id": 100 + i, "id": i, "rule": "r", "priority": "normal", "rule_title": "R",
            "url": url, "title": title, "summary": "", "text": "body", "source": source,
            "feed_url": "https://n.example/feed", "published": "2026-03-02T09:30:00+00:00",
            "text_source": "feed", "story_id": story, "hits": json.dumps([])}


def test_html_digest_has_no_live_script_or_script_links():
    rows = [row(1, "javascript:alert(document.cookie)", "<script>alert(1)</script> one", story=7),
            row(2, "data:text/html,<script>alert(2)</script>", "<img src=x onerror=alert(2)> two", story=7,
                source="Other"),
            row(3, "https://n.example/3", "three")]
    html = render_html(build_digest(rows, channel="c", created=NOW))
    doc = lxml.html.fromstring(html)
    hrefs = [h.strip().lower() for h in doc.xpath("//@href")]
    assert "https://n.example/3" in hrefs
    assert not [h for h in hrefs if h.startswith(("javascript:", "data:"))], hrefs
    assert not doc.xpath("//script | //img | //@*[starts-with(name(), 'on')]")
    assert not re.search(r"<\s*(script|img)\b", html, re.I)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; one" in html


def test_chat_webhook_formats_never_carry_a_script_link():
    from datetime import UTC, datetime

    from monitor.deliver.digest import build_digest
    from monitor.deliver.formats import FORMATS
    row = {"outbox_id": 1, "rule": "kallas", "priority": "normal", "id": 1, "url": "javascript:alert(1)",
           "title": "Kallas", "summary": "", "text": "Kallas", "source": "X", "feed_url": "https://f/",
           "published": None, "story_id": None, "rule_title": "Kallas", "hits": "[]", "text_source": "page"}
    d = build_digest([row], channel="c", created=datetime(2026, 1, 1, tzinfo=UTC))
    for name, fmt in FORMATS.items():
        if name == "json":
            continue                                  # the data document carries the URL as data
        assert "javascript:" not in str(fmt.render(d)), name
