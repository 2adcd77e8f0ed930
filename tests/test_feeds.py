"""feeds.parse_feed: the shared corpora, and a table of the cases a lenient reader must handle."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.errors import FeedParseError
from monitor.ingest.feeds import html_to_text, parse_feed

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
FEEDS = SHARED / "corpora" / "feeds"
if not FEEDS.is_dir():
    raise RuntimeError(f"shared material missing: expected {FEEDS} (clone shared/ beside the repo)")

REAL = sorted(p for p in (FEEDS / "real").iterdir() if p.suffix != ".md")
EDGE = sorted(p for p in (FEEDS / "edge").rglob("*") if p.is_file() and p.suffix in (".xml", ".json", ".rss",
                                                                                      ".atom")
              and p.name != "index.json")
URL = "https://news.example.com/feeds/main.xml"


def test_corpora_are_there():
    assert len(REAL) >= 29 and len(EDGE) >= 370


def _declared_items(data: bytes) -> int:
    if data.lstrip().startswith(b"{"):
        return len(json.loads(data)["items"])
    return len(re.findall(rb"<(?:\w+:)?(?:item|entry)[\s>]", data))


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.name)
def test_real_feed_gives_its_entries(path):
    data = path.read_bytes()
    parsed = parse_feed(data, URL)
    declared = _declared_items(data)
    # one real capture (DailyMail) is a channel without a single item: then none is right
    assert len(parsed.entries) == min(declared, 200) if declared else not parsed.entries
    for e in parsed.entries:
        assert e.guid and e.feed_url == URL
        assert not e.url or e.url.startswith(("http://", "https://"))
        assert "<p>" not in e.summary and "&amp;" not in e.title
        assert e.published is None or e.published.tzinfo is not None


def test_real_feeds_mostly_have_entries():
    assert sum(1 for p in REAL if parse_feed(p.read_bytes(), URL).entries) >= len(REAL) - 1


@pytest.mark.parametrize("path", EDGE, ids=lambda p: str(p.relative_to(FEEDS / "edge")))
def test_edge_case_never_escapes_an_exception(path):
    try:
        parsed = parse_feed(path.read_bytes(), URL)
    except FeedParseError:
        return
    assert all(e.guid for e in parsed.entries)


def rss(items: str, extra: str = "", prolog: bytes = b"") -> bytes:
    return prolog + (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>T</title>{extra}"
                     f"{items}</channel></rss>").encode()


def test_rss_fields_are_plain_text_absolute_and_utc():
    body = rss("<item><guid>g1</guid><title>A &amp; B &lt;b&gt;</title><link>/a/1.html</link>"
               "<description>&lt;p&gt;Hello &amp;amp; &lt;script&gt;x()&lt;/script&gt;world&lt;/p&gt;</description>"
               "<author>ed@example.com (Ed)</author><pubDate>Tue, 27 Jan 2026 10:00:00 +0200</pubDate></item>",
               "<ttl>45</ttl>")
    p = parse_feed(body, URL)
    e = p.entries[0]
    assert (p.format, p.ttl_minutes, p.title) == ("rss20", 45, "T")
    assert e.guid == "g1" and e.url == "https://news.example.com/a/1.html"
    assert e.title == "A & B" and e.summary == "Hello & world"   # escaped markup in a title is markup
    assert e.published == datetime(2026, 1, 27, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("item,guid", [
    ("<guid>urn:x:1</guid><link>http://a/1</link>", "urn:x:1"),
    ("<link>http://a/2</link><title>t</title>", "http://a/2"),
    ("<title>t</title><description>d</description>", None),
])
def test_guid_fallbacks(item, guid):
    e = parse_feed(rss(f"<item>{item}</item>"), URL).entries[0]
    assert e.guid == guid if guid else e.guid.startswith("sha1:")


def test_hash_guid_is_stable_and_content_dependent():
    a = parse_feed(rss("<item><title>t</title><description>d</description></item>"), URL).entries[0]
    b = parse_feed(rss("<item><title>t</title><description>d</description></item>"), URL).entries[0]
    c = parse_feed(rss("<item><title>t</title><description>e</description></item>"), URL).entries[0]
    assert a.guid == b.guid != c.guid


@pytest.mark.parametrize("prolog", [b"\xef\xbb\xbf", b"\n\n  \r\n", b"\xef\xbb\xbf\n"])
def test_bom_and_leading_blank_lines(prolog):
    assert len(parse_feed(rss("<item><guid>1</guid></item>", prolog=prolog), URL).entries) == 1


def test_wrong_declared_charset_and_undeclared_entity():
    body = ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Caf\xe9 &nbsp;&eacute;</title>"
            "<item><guid>1</guid><title>\xe9t\xe9 &mdash; ok</title></item></channel></rss>").encode("latin-1")
    p = parse_feed(body, URL)
    assert len(p.entries) == 1 and "ok" in p.entries[0].title


def test_atom_with_xml_base_and_content():
    body = (b"<feed xmlns='http://www.w3.org/2005/Atom' xml:base='https://b.example/x/'><title>A</title>"
            b"<entry><id>tag:1</id><title type='html'>&lt;i&gt;Hi&lt;/i&gt;</title><link href='post/1'/>"
            b"<updated>2026-01-02T03:04:05Z</updated><content type='html'>&lt;p&gt;Body&lt;/p&gt;</content>"
            b"<author><name>Ann</name></author></entry></feed>")
    e = parse_feed(body, URL).entries[0]
    assert e.url == "https://b.example/x/post/1" and e.title == "Hi" and e.content == "Body"
    assert e.author == "Ann" and e.published == e.updated == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_rdf_rss10():
    body = (b"<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#' xmlns='http://purl.org/rss/1.0/'>"
            b"<channel rdf:about='x'><title>R</title></channel>"
            b"<item rdf:about='http://r/1'><title>One</title><link>http://r/1</link></item></rdf:RDF>")
    p = parse_feed(body, URL)
    assert p.format == "rss10" and p.entries[0].url == "http://r/1"


@pytest.mark.parametrize("version,fmt", [("https://jsonfeed.org/version/1", "json10"),
                                         ("https://jsonfeed.org/version/1.1", "json11")])
def test_json_feed(version, fmt):
    doc = {"version": version, "title": "J", "home_page_url": "https://j.example/",
           "author": {"name": "Feed Author"},
           "items": [{"id": 7, "url": "/p/7", "title": "Seven", "content_html": "<p>Hi &amp; bye</p>",
                      "date_published": "2026-01-02T03:04:05+01:00", "authors": [{"name": "Al"}]},
                     {"id": "8", "external_url": "https://else.example/8", "content_text": "plain",
                      "date_modified": "2026-01-03T00:00:00Z"},
                     "junk"]}
    p = parse_feed(json.dumps(doc).encode(), URL, "application/feed+json")
    a, b = p.entries
    assert p.format == fmt and p.title == "J"
    assert (a.guid, a.url, a.title, a.content, a.author) == ("7", "https://j.example/p/7", "Seven", "Hi & bye", "Al")
    assert a.published == datetime(2026, 1, 2, 2, 4, 5, tzinfo=UTC)
    assert (b.url, b.author, b.published) == ("https://else.example/8", "Feed Author", b.updated)


@pytest.mark.parametrize("body", [
    b"<html><body><h1>Subscribe!</h1></body></html>",
    b"\x00\x01garbage\xff",
    b"",
    b"{not json",
    b'{"hello": "world", "items": 3}',
    b"[1, 2]",
])
def test_nothing_usable_raises(body):
    with pytest.raises(FeedParseError):
        parse_feed(body, URL)


def test_truncated_feed_keeps_what_it_can():
    full = rss("".join(f"<item><guid>{i}</guid><title>t{i}</title></item>" for i in range(10)))
    p = parse_feed(full[: len(full) * 2 // 3], URL)
    assert 0 < len(p.entries) < 10 and p.warning


def test_max_entries():
    body = rss("".join(f"<item><guid>{i}</guid></item>" for i in range(50)))
    assert [e.guid for e in parse_feed(body, URL, max_entries=5).entries] == ["0", "1", "2", "3", "4"]


def test_empty_but_valid_feed_has_no_entries():
    assert parse_feed(rss(""), URL).entries == ()


@pytest.mark.parametrize("html,text", [
    ("<p>a</p><p>b</p>", "a\nb"),
    ("x &amp; y &#8211; z", "x & y \u2013 z"),
    ("<style>p{}</style>keep<script>drop()</script>", "keep"),
    ("", ""),
    (None, ""),
])
def test_html_to_text(html, text):
    assert html_to_text(html) == text
