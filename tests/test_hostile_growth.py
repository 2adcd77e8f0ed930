"""Unbounded growth: stored article text is capped (fetch.max_article_chars), keys are bounded,
and the robots.txt cache evicts (fetch.robots_cache_size). Real publishers on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from monitor.config import settings as config_mod
from monitor.errors import ConfigError
from monitor.extract.article import clip
from monitor.ingest.fetch import Fetcher
from monitor.store.sqlite import Store, db_bytes
from tests.publisher import Publisher, poll

WORDS = "Kaja Kallas said the sanctions would stay in place until the war ends, officials confirmed. "


def big_feed(chars: int, guid: str = "big-1", summary_chars: int = 3_000_000) -> bytes:
    text = (WORDS * (chars // len(WORDS) + 1))[:chars]
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "Big",
                       "items": [{"id": guid, "url": "http://127.0.0.1:9/big", "title": "Kallas " * 5000,
                                  "summary": text[:summary_chars], "content_text": text}]}).encode()


def config(tmp_path, feed_url: str, extra: str = "") -> config_mod.Config:
    (tmp_path / "rules").mkdir(exist_ok=True)
    return config_mod.parse(f"""
state: {{path: {tmp_path}/m.db, digests_dir: {tmp_path}/d}}
rules: {{path: {tmp_path}/rules}}
fetch: {{allow_private: ["127.0.0.1/32"], full_text: false, timeout_seconds: 20, first_poll_alert_hours: all{extra}}}
channels: [{{name: archive, type: file}}]
feeds: [{{url: '{feed_url}'}}]
""", str(tmp_path / "c.yaml"))


def stored(cfg) -> list[dict]:
    store = Store(cfg.state_path)
    try:
        return store.rows("SELECT title, summary, text FROM articles")
    finally:
        store.close()


def test_a_six_megabyte_item_is_stored_capped(tmp_path):
    with Publisher({"/big.json": ("application/feed+json", big_feed(6_100_000))}) as pub:
        cfg = config(tmp_path, pub.url("/big.json"))
        summary, feeds, _ = poll(cfg)
    assert summary.feeds[0].status == "ok", summary.feeds[0]
    [row] = stored(cfg)
    cap = config_mod.FetchSettings().max_article_chars
    assert len(row["text"]) <= cap and len(row["summary"]) <= cap and len(row["title"]) <= 1000
    assert row["text"].startswith("Kaja Kallas") and row["text"].endswith("…")
    assert db_bytes(cfg.state_path) < 4 * cap + 2_000_000      # was 6.1 MB for this one item


def test_the_cap_is_a_config_key(tmp_path):
    with Publisher({"/big.json": ("application/feed+json", big_feed(50_000))}) as pub:
        cfg = config(tmp_path, pub.url("/big.json"), ", max_article_chars: 5000")
        poll(cfg)
    [row] = stored(cfg)
    assert 4000 < len(row["text"]) <= 5000
    with pytest.raises(ConfigError, match=r"c\.yaml:1:\d+: (fetch\.)?max_article_chars must be at least 1000"):
        config_mod.parse("fetch: {max_article_chars: 10}\n", "c.yaml")
    with pytest.raises(ConfigError, match="robots_cache_size must be at least 1"):
        config_mod.parse("fetch: {robots_cache_size: 0}\n", "c.yaml")


def test_huge_guids_are_stored_as_hashes(tmp_path):
    with Publisher({"/g.json": ("application/feed+json", big_feed(2000, guid="g" * 200_000))}) as pub:
        cfg = config(tmp_path, pub.url("/g.json"))
        poll(cfg)
    store = Store(cfg.state_path)
    try:
        guids = [r["guid"] for r in store.rows("SELECT guid FROM entries")]
    finally:
        store.close()
    assert len(guids) == 1 and guids[0].startswith("sha1:") and len(guids[0]) < 100


def test_clip_cuts_at_a_word_and_marks_it():
    assert clip("short", 10) == "short"
    out = clip("alpha beta gamma delta epsilon", 17)
    assert out == "alpha beta gamma…" and len(out) <= 17
    assert len(clip("x" * 5000, 1000)) == 1000


def test_robots_cache_evicts_least_recently_used_origins():
    """Eight real origins (eight servers on 127.0.0.1), a cache of three."""
    pubs = [Publisher({"/robots.txt": ("text/plain", b"User-agent: *\nDisallow: /private/\n"),
                       "/a.html": ("text/html", b"<html>a</html>")}) for _ in range(8)]
    for p in pubs:
        p.__enter__()
    try:
        settings = config_mod.FetchSettings(allow_private=("127.0.0.1/32",), timeout_seconds=10,
                                            respect_robots=True, robots_cache_size=3)

        async def go():
            async with Fetcher(settings) as f:
                sizes = []
                for p in pubs:
                    await f.fetch_page(p.url("/a.html"))
                    sizes.append(len(f.robots))
                await f.fetch_page(pubs[-1].url("/a.html"))      # recent: still cached
                await f.fetch_page(pubs[0].url("/a.html"))       # evicted: asked again
                return sizes, len(f.robots._locks)
        sizes, locks = asyncio.run(go())
    finally:
        for p in pubs:
            p.__exit__(None, None, None)
    assert max(sizes) == 3 and locks <= 6
    assert pubs[-1].hits["/robots.txt"] == 1
    assert pubs[0].hits["/robots.txt"] == 2
