"""opml.py: the three real exports (bare & included), nesting, round trips, junk."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config.settings import FeedSettings
from monitor.errors import FeedParseError
from monitor.ingest.opml import export_opml, parse_opml

OPML = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "opml"
if not OPML.is_dir():
    raise RuntimeError(f"shared material missing: expected {OPML} (clone shared/ beside the repo)")


@pytest.mark.parametrize("name,count,tag", [
    ("plenaryapp__countries__India.opml", 36, "India"),
    ("plenaryapp__countries__United_States.opml", 10, "United States"),
    ("plenaryapp__recommended__News.opml", 11, "News"),
])
def test_real_opml_imports_every_feed(name, count, tag):
    data = (OPML / name).read_bytes()
    feeds = parse_opml(data)
    assert len(feeds) == count == data.count(b"xmlUrl=")
    assert all(f["url"].startswith("http") and f["name"] and f["tags"] == [tag] for f in feeds)


def test_bare_ampersands_survive():
    names = {f["name"] for f in parse_opml((OPML / "plenaryapp__countries__United_States.opml").read_bytes())}
    assert {"World & Nation", "Yahoo News - Latest News & Headlines"} <= names


def test_nested_folders_and_categories_become_tags():
    data = b"""<opml version="2.0"><body>
      <outline text="Top"><outline title="Sub">
        <outline text="A" xmlUrl="http://a/feed?x=1&y=2" category="/Tech/AI,Extra"/>
      </outline></outline>
      <outline text="Loose" xmlUrl="http://b/feed"/>
      <outline text="dup" xmlUrl="http://b/feed"/>
      <outline text="no url"/>
    </body></opml>"""
    assert parse_opml(data) == [
        {"url": "http://a/feed?x=1&y=2", "name": "A", "tags": ["Top", "Sub", "Tech", "AI", "Extra"]},
        {"url": "http://b/feed", "name": "Loose", "tags": []},
    ]


def test_export_imports_back_the_same_feeds():
    feeds = [FeedSettings(url="http://a/f?x=1&y=2", name="A & \"B\"", tags=("News", "EU")),
             FeedSettings(url="http://b/f", name="", tags=()),
             FeedSettings(url="http://c/f", name="C <c>", tags=("News",))]
    back = parse_opml(export_opml(feeds).encode())
    assert back == [{"url": "http://a/f?x=1&y=2", "name": "A & \"B\"", "tags": ["News", "EU"]},
                    {"url": "http://c/f", "name": "C <c>", "tags": ["News"]},
                    {"url": "http://b/f", "name": "http://b/f", "tags": []}]


@pytest.mark.parametrize("data", [b"", b"not xml at all <<<"])
def test_junk_is_an_error_or_empty(data):
    try:
        assert parse_opml(data) == []
    except FeedParseError:
        pass
