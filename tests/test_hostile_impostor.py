"""A feed claiming another site's article must not take it over.

Two real publishers on two loopback hosts (127.0.1.7 is the trusted outlet, 127.0.0.1
the impostor, which links its item to the outlet's article URL). The impostor is polled
first; then both. The outlet's own copy must be stored under its URL with its own title,
fire the rule limited to the outlet's feed, and lead the story in the digest; the
impostor's item is kept, held to its feed (`#via=`), and never carries the real URL.
"""

from __future__ import annotations

from urllib.parse import urldefrag

import pytest

from monitor.config import settings as config_mod
from monitor.deliver import delivery
from monitor.store.sqlite import Store
from monitor.stories import dedupe
from tests.publisher import Publisher, poll

TEXT = ("Kaja Kallas told reporters in Brussels on Monday that the European Union would keep its "
        "sanctions in place, and that ministers would meet again next week to review the package. "
        "She said the bloc stood united and that the measures were working as intended. ") * 3


def rss(title: str, items: list[tuple[str, str, str]]) -> bytes:
    body = "".join(f"<item><guid>{g}</guid><title>{t}</title><link>{link}</link>"
                   f"<description>{TEXT[:200]}</description><pubDate>Mon, 30 Nov 2026 09:00:00 GMT</pubDate></item>"
                   for g, t, link in items)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>{body}</channel></rss>'.encode()


PAGE = f"<html><head><title>Real</title></head><body><article><h1>Real</h1><p>{TEXT}</p></article></body></html>"


@pytest.fixture
def sites():
    outlet = Publisher({"/news/1.html": ("text/html; charset=utf-8", PAGE.encode())}, host="127.0.1.7")
    impostor = Publisher({})
    with outlet, impostor:
        real = outlet.url("/news/1.html")
        outlet.docs["/feed.xml"] = ("application/rss+xml", rss("Trusted", [("t1", "EU keeps sanctions, Kallas says", real)]))
        impostor.docs["/feed.xml"] = ("application/rss+xml", rss("Impostor", [("e1", "FAKE: Kallas resigns", real)]))
        yield outlet, impostor, real


def config(tmp_path, feeds: list[tuple[str, str]]) -> config_mod.Config:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "r.yaml").write_text(
        "rules:\n  - id: trusted-only\n    query: Kallas\n    feeds: [trusted]\n"
        "  - id: anyone\n    query: Kallas\n")
    listed = "\n".join(f"  - {{url: '{u}', name: {n}, tags: [{n.lower()}]}}" for u, n in feeds)
    return config_mod.parse(f"""
state: {{path: {tmp_path}/m.db, digests_dir: {tmp_path}/d}}
rules: {{path: {tmp_path}/rules}}
fetch: {{allow_private: ["127.0.0.0/8"], timeout_seconds: 10, respect_robots: false, first_poll_alert_hours: all}}
digest: {{max_items: 100}}
channels: [{{name: archive, type: file}}]
feeds:
{listed}
""", str(tmp_path / "c.yaml"))


def test_an_impostor_polled_first_does_not_take_the_outlets_article(tmp_path, sites):
    outlet, impostor, real = sites
    first = config(tmp_path, [(impostor.url("/feed.xml"), "Impostor")])
    poll(first)
    both = config(tmp_path, [(impostor.url("/feed.xml"), "Impostor"), (outlet.url("/feed.xml"), "Trusted")])
    poll(both)
    store = Store(both.state_path)
    try:
        rows = {r["url"]: r for r in store.rows("SELECT url, feed_url, title FROM articles")}
        queued = store.rows("SELECT o.rule, a.url FROM outbox o JOIN articles a ON a.id = o.article_id")
        digests = delivery.preview(store, both)
    finally:
        store.close()
    # the outlet's own copy is stored under its own URL, with its own title
    assert rows[dedupe.canonical_url(real)]["feed_url"] == outlet.url("/feed.xml")
    assert rows[dedupe.canonical_url(real)]["title"] == "EU keeps sanctions, Kallas says"
    # the impostor's item is kept, but held to its feed
    held = [u for u, r in rows.items() if r["feed_url"] == impostor.url("/feed.xml")]
    assert len(held) == 1 and held[0] != dedupe.canonical_url(real) and dedupe.held_to_feed(held[0])
    assert urldefrag(held[0])[0] == dedupe.canonical_url(real)      # the link still opens the article
    # the rule limited to the trusted feed fired on the outlet's copy
    assert {"rule": "trusted-only", "url": dedupe.canonical_url(real)} in queued
    # and the digest never shows the impostor's title on the real URL
    items = [i for d in digests for i in d.items]
    on_real = [i for i in items if i.url == dedupe.canonical_url(real)]
    assert on_real and all(i.title == "EU keeps sanctions, Kallas says" for i in on_real)
    assert all(i.title != "FAKE: Kallas resigns" or dedupe.held_to_feed(i.url) for i in items)


def test_an_item_on_the_feeds_own_site_keeps_its_plain_url(tmp_path, sites):
    outlet, _, real = sites
    cfg = config(tmp_path, [(outlet.url("/feed.xml"), "Trusted")])
    poll(cfg)
    store = Store(cfg.state_path)
    try:
        urls = [r["url"] for r in store.rows("SELECT url FROM articles")]
    finally:
        store.close()
    assert urls == [dedupe.canonical_url(real)]


@pytest.mark.parametrize("link,feed,held", [
    ("https://www.bbc.co.uk/news/1", "https://news.bbc.co.uk/rss.xml", False),     # same registrable site
    ("https://trusted.com/a", "https://evil.com/feed", True),
    ("https://trusted.com.evil.com/a", "https://evil.com/feed", False),  # evil's own subdomain
    ("https://evil.com.trusted.com/a", "https://evil.com/feed", True),
    ("urn:uuid:1234", "https://evil.com/feed", True),                            # GUIDs any feed can repeat
    ("sha1:abcd", "https://evil.com/feed", True),
    ("https://a.blogspot.com/p", "https://b.blogspot.com/feeds", True),              # public-suffix aware
])
def test_item_url_holds_items_a_feed_cannot_speak_for(link, feed, held):
    key = dedupe.item_url(link, feed)
    assert dedupe.held_to_feed(key) is held
    assert urldefrag(key)[0] == dedupe.canonical_url(link).split("#")[0]
