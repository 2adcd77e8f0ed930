"""Slow or hostile units cost themselves only: whole-request deadlines, worker isolation,
per-article limits inside a batch, a feed cut off at its deadline, retention in linear steps.

The daemon-level drill (a witness feed polled on time while all of these run) is in
tests/test_isolation_daemon.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from monitor.config.settings import FetchSettings
from monitor.errors import FetchError
from monitor.extract.pool import ExtractorPool
from monitor.ingest.fetch import Fetcher
from monitor.models import Extracted

REPO = Path(__file__).resolve().parents[1]
SETTINGS = FetchSettings(allow_private=("127.0.0.0/8",), respect_robots=False, timeout_seconds=5.0)


class Drip(BaseHTTPRequestHandler):
    """Sends its headers at once, then the body a byte every `gap` seconds (within any per-read timeout)."""

    gap = 0.2
    size = 200

    def do_GET(self):  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(self.size))
        self.end_headers()
        try:
            for _ in range(self.size):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(self.gap)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def drip_server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Drip)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_a_dripping_page_is_cut_at_the_whole_request_deadline(drip_server):
    async def go() -> float:
        async with Fetcher(replace(SETTINGS, timeout_seconds=1.5)) as f:
            started = time.monotonic()
            with pytest.raises(FetchError, match="timeout after 1.5s"):
                await f.fetch_page(drip_server + "/article/1")
            return time.monotonic() - started
    took = asyncio.run(go())
    # every read arrives within 0.2 s, so only a whole-request deadline stops it (40 s otherwise)
    assert 1.4 < took < 4


# -- the worker pool: one stuck unit costs itself and one worker ---------------------------
def stuck_in_c_on_marker(html: str, url: str):
    """Ignores the in-worker alarm, like a C extension that never returns to Python."""
    if "STUCK" in html:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(3600)
    return os.getpid()


def per_item(item: str, state: str):
    if item == "hang":
        while True:            # pure Python: the per-item alarm interrupts it
            pass
    if item == "stuck":
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(3600)
    if item == "crash":
        os._exit(3)
    if item == "raise":
        raise ValueError("bad item")
    return f"{state}:{item}:{os.getpid()}"


def test_a_stuck_unit_kills_its_own_worker_only():
    async def go():
        with ExtractorPool(workers=2, timeout=0.5, fn=stuck_in_c_on_marker) as pool:
            before = await asyncio.gather(*(pool.extract("<p>ok</p>", f"u{i}") for i in range(4)))
            stuck = asyncio.ensure_future(pool.extract("<p>STUCK</p>", "stuck"))
            await asyncio.sleep(0.2)
            during = await asyncio.gather(*(pool.extract("<p>ok</p>", f"v{i}") for i in range(6)))
            return before, await stuck, during, pool.replaced, pool.timeouts

    before, stuck, during, replaced, timeouts = asyncio.run(go())
    assert replaced == 1 and timeouts == 1
    assert stuck == Extracted()          # the stuck page gives an empty record
    # the other worker kept working all along: the same process served units before and during
    assert set(during) & set(before)
    assert len(set(before) | set(during)) <= 3


def test_batch_limits_each_item_and_goes_on_after_a_lost_one():
    items = ["a", "hang", "b", "stuck", "c", "crash", "d", "raise", "e"]

    async def go():
        with ExtractorPool(workers=1, timeout=0.5) as pool:
            return await pool.map_batch(per_item, items, "ctx", timeout=0.5, what="test batch"), pool.replaced

    results, replaced = asyncio.run(go())
    statuses = [s for s, _ in results]
    assert statuses == ["ok", "timeout", "ok", "timeout", "ok", "crashed", "ok", "error", "ok"]
    assert [v.split(":")[1] for s, v in results if s == "ok"] == ["a", "b", "c", "d", "e"]
    assert all(v.startswith("ctx:") for s, v in results if s == "ok")
    assert isinstance(results[7][1], ValueError)
    assert replaced == 3                 # stuck once, crash twice; the hang cost no worker



def test_a_batch_charges_the_very_item_a_worker_died_or_stuck_on():
    # quick items before the bad one are still in the worker's unsent chunk when it dies:
    # its shared progress, not the pipe, says which item it was on
    items = ["a", "b", "crash", "c", "d", "stuck", "e"]

    async def go():
        with ExtractorPool(workers=1, timeout=0.5) as pool:
            return await pool.map_batch(per_item, items, "ctx", timeout=0.5, what="test batch"), pool.replaced

    results, replaced = asyncio.run(go())
    assert [s for s, _ in results] == ["ok", "ok", "crashed", "ok", "ok", "timeout", "ok"]
    assert [v.split(":")[1] for s, v in results if s == "ok"] == ["a", "b", "c", "d", "e"]
    assert replaced == 3                 # the crash twice, the stuck one once


def test_a_batch_comes_back_in_chunks_not_a_message_per_item(monkeypatch):
    from monitor.extract import workers
    seen = []
    real = workers.Worker.exchange_ready

    async def counting(self, io, message, hard):
        got = await real(self, io, message, hard)
        seen.extend(got)
        return got
    monkeypatch.setattr(workers.Worker, "exchange_ready", counting)

    async def go():
        with ExtractorPool(workers=1, timeout=5) as pool:
            return await pool.map_batch(per_item, [f"i{n}" for n in range(30)], "ctx", what="test batch")

    results = asyncio.run(go())
    assert [v.split(":")[1] for _, v in results] == [f"i{n}" for n in range(30)]
    assert sum(len(chunk) for chunk in seen) == 30 and len(seen) < 30

# -- one feed's poll: cut off at its deadline, hostile articles stored unmatched -----------
class Site:
    """A publisher on 127.0.0.1: /feed.xml (with an ETag) lists `items`; /fast/N pages answer at
    once, /slow/N pages drip a byte every 0.2 s; /big/N is one huge article."""

    def __init__(self, items: list[str]):
        self.items = items
        self.requests: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                site.requests.append(self.path)
                if self.path == "/feed.xml":
                    etag = f'"v{len(site.items)}"'
                    if self.headers.get("If-None-Match") == etag:
                        self.send_response(304)
                        self.end_headers()
                        return
                    body = site.feed().encode()
                    self.send_response(200)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Type", "application/rss+xml")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                kind, n = self.path.strip("/").split("/")
                text = ("Kaja Kallas met NATO ministers in Brussels about the Halvorsen Accord. " * 30
                        if kind != "big" else "NATO more European defence. " * 200_000)
                body = f"<html><body><article><h1>Story {n}</h1><p>{text}</p></article></body></html>".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    if kind == "slow":
                        for i in range(0, len(body), 1):
                            self.wfile.write(body[i:i + 1])
                            self.wfile.flush()
                            time.sleep(0.2)
                    else:
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def feed(self) -> str:
        items = "".join(f"<item><guid>urn:{p}</guid><title>Story {p}</title><link>{self.base}/{p}</link>"
                        f"<description>Kaja Kallas summary {p}</description></item>" for p in self.items)
        return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Site</title><link>{self.base}/</link>'
                f"<description>d</description>{items}</channel></rss>")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def site_config(tmp_path, site: Site, fetch: str = ""):
    from monitor.config import settings as config_mod
    cfg = tmp_path / "monitor.yaml"
    cfg.write_text(f"""state: {{path: {tmp_path}/state/monitor.db, digests_dir: {tmp_path}/state/digests}}
rules: {{path: {REPO}/rules}}
fetch: {{allow_private: ["127.0.0.1/32"], first_poll_alert_hours: all, respect_robots: false, timeout_seconds: 60, {fetch}}}
channels: [{{name: archive, type: file, schedule: hourly}}]
feeds:
  - url: {site.base}/feed.xml
""")
    return config_mod.load(cfg)


async def poll_once(cfg, use_pool: bool = False):
    from monitor.daemon import pipeline
    from monitor.daemon.run import open_deps
    async with open_deps(cfg, use_pool=use_pool) as deps:
        summary = await pipeline.poll_cycle(deps, every_feed=True)
        feed = deps.store.feeds()[0]
        articles = deps.store.rows("SELECT url, unmatched FROM articles ORDER BY id")
        matched = {r["url"] for r in deps.store.rows("SELECT a.url FROM matches m JOIN articles a ON a.id = m.article_id")}
    return summary, feed, articles, matched


def test_a_feed_cut_off_at_its_deadline_saves_what_is_done_and_keeps_its_validators(tmp_path):
    site = Site(["fast/1", "slow/2", "fast/3"])
    try:
        cfg = site_config(tmp_path, site, "feed_deadline_seconds: 8")
        started = time.monotonic()
        summary, feed, articles, _ = asyncio.run(poll_once(cfg))
        took = time.monotonic() - started
        assert took < 25                                  # the slow page alone would take minutes
        [outcome] = summary.feeds
        assert outcome.status == "slow" and outcome.left == 1
        assert [a["url"].rsplit("/", 1)[1] for a in articles] == ["1", "3"]
        assert "deadline" in feed["slow"] and feed["etag"] is None    # the new ETag was not taken
        # the next poll is a full GET (no 304 hiding the rest), and the slow item is still new
        site.items = ["fast/1", "fast/2", "fast/3"]       # the publisher fixed its page
        site.requests.clear()
        summary, feed, articles, _ = asyncio.run(poll_once(cfg))
        assert summary.feeds[0].status == "ok" and summary.feeds[0].new == 1
        assert feed["slow"] is None and feed["etag"] == '"v3"'
        assert sorted(a["url"].rsplit("/", 1)[1] for a in articles) == ["1", "2", "3"]
    finally:
        site.close()


def test_an_article_past_its_matching_limit_is_stored_unmatched_and_the_rest_match(tmp_path):
    site = Site(["fast/1", "big/2", "fast/3"])
    try:
        # the big article takes about 7 s to match on this machine, a small one 2 ms: 2 s cuts the
        # first off even on a machine several times faster, and leaves the small ones room on a
        # loaded one (at 0.3 s, a small article timed out at load 7 on two cores)
        cfg = site_config(tmp_path, site, "match_seconds_per_article: 2, max_body_bytes: 20000000, max_article_chars: 10000000")
        summary, _, articles, matched = asyncio.run(poll_once(cfg, use_pool=True))
        by_name = {a["url"].rsplit("/", 1)[1]: a for a in articles}
        assert set(by_name) == {"1", "2", "3"}            # nothing lost
        assert "over 2s" in by_name["2"]["unmatched"]
        assert by_name["1"]["unmatched"] is None and by_name["3"]["unmatched"] is None
        assert {by_name["1"]["url"], by_name["3"]["url"]} <= matched
        assert summary.feeds[0].unmatched == 1 and summary.as_dict()["unmatched"] == 1
        # not retried forever: the next poll sees no new entry and leaves the article as it is
        summary, _, articles, _ = asyncio.run(poll_once(cfg, use_pool=True))
        assert summary.feeds[0].status == "not-modified"
    finally:
        site.close()
