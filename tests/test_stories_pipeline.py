"""Story levels through the daemon's poll: a copy is stored but not queued again, related
coverage is queued and shown under its story, and the level is kept in the store."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

import pytest

from monitor.config import settings as config
from monitor.daemon import pipeline
from monitor.daemon import run as daemon
from monitor.deliver.delivery import run_digests
from monitor.store.sqlite import Store
from tests.test_stories_related import QUAKE_REWRITE, QUAKE_WIRE


def _feed(base: str, items: list[tuple[str, str, str, int]]) -> bytes:
    now = time.time()
    body = "".join(
        f"<item><guid>urn:{slug}</guid><title>{escape(title)}</title><link>{base}/{slug}.html</link>"
        f"<pubDate>{formatdate(now - age, usegmt=True)}</pubDate><description>{escape(text)}</description></item>"
        for slug, title, text, age in items)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Desk</title><link>{base}/</link>'
            f"<description>d</description>{body}</channel></rss>").encode()


def _serve(host: str, feed) -> tuple[ThreadingHTTPServer, str]:
    box: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = feed(box["base"]) if self.path == "/feed.xml" else b""
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    box["base"] = f"http://{host}:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, box["base"]


@pytest.fixture
def publishers():
    """Two outlets on two loopback hosts: the wire story and a syndicated copy; another's own report."""
    wire_title, _, wire = QUAKE_WIRE.partition("\n")
    rewrite_title, _, rewrite = QUAKE_REWRITE.partition("\n")
    servers = [_serve("127.0.0.1", lambda base: _feed(base, [
                   ("wire", wire_title, wire, 300), ("copy", "Peru earthquake toll rises", wire + " (Reuters)", 200)])),
               _serve("127.0.1.9", lambda base: _feed(base, [("rewrite", rewrite_title, rewrite, 100)]))]
    yield [base for _, base in servers]
    for server, _ in servers:
        server.shutdown()
        server.server_close()


def test_copy_is_not_queued_again_but_related_coverage_is_and_joins_the_story(tmp_path, publishers):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yaml").write_text("rules:\n  - id: quake\n    query: earthquake OR quake OR tremor\n")
    cfg = config.parse(f"""
state: {{path: {tmp_path}/m.db, digests_dir: {tmp_path}/digests}}
rules: {{path: {rules}}}
fetch: {{allow_private: ["127.0.0.1/32", "127.0.1.9/32"], respect_robots: false}}
channels: [{{name: desk, type: file, schedule: hourly}}]
feeds: [{{url: "{publishers[0]}/feed.xml", name: Wire, full_text: false}},
        {{url: "{publishers[1]}/feed.xml", name: Daily, full_text: false}}]
""")

    async def poll() -> None:
        async with daemon.open_deps(cfg, use_pool=False) as deps:
            await pipeline.poll_cycle(deps, every_feed=True)

    asyncio.run(poll())
    store = Store(cfg.state_path)
    try:
        rows = {url.rsplit("/", 1)[1]: (level, story) for url, level, story in store.db.execute(
            "SELECT url, story_level, COALESCE(story_id, id) FROM articles")}
        # the two feeds are polled side by side: whichever outlet's report came first starts
        # the story, the other's joins it as related coverage; the wire copy is always a copy
        levels = {k: v[0] for k, v in rows.items()}
        assert levels["copy.html"] == "copy"
        assert {levels["wire.html"], levels["rewrite.html"]} == {"first", "related"}
        assert len({v[1] for v in rows.values()}) == 1
        queued = {url.rsplit("/", 1)[1] for (url,) in store.db.execute(
            "SELECT a.url FROM outbox o JOIN articles a ON a.id = o.article_id")}
        assert queued == {"wire.html", "rewrite.html"}
        levels_of_story = {r["story_level"] for r in store.story_sources(next(iter(rows.values()))[1])}
        assert levels_of_story == {"first", "copy", "related"}
        assert store.story_level(f"{publishers[1]}/rewrite.html") == levels["rewrite.html"]
        asyncio.run(run_digests(store, cfg, force=True))
    finally:
        store.close()
    digests = [json.loads(p.read_text()) for p in (tmp_path / "digests").rglob("*.json")]
    items = [i for d in digests for i in d["items"]]
    # one item for the story; the other outlet's report is listed under it with its own headline
    assert len(items) == 1
    shown = {items[0]["title"], *(c["title"] for c in items[0]["related_coverage"])}
    assert shown == {"Strong earthquake kills hundreds in northern Peru",
                     "Peru quake: rescuers dig through rubble as toll passes 300"}
    mail = "\n".join(p.read_text() for p in (tmp_path / "digests").rglob("*.eml"))
    assert "Related coverage:" in mail
