"""pipeline.py through a tiny publisher on 127.0.0.1 whose feed and pages the test edits."""

import asyncio
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from monitor.config import settings as config
from monitor.daemon import pipeline
from monitor.daemon import run as daemon

LOREM = ("Ministers met in Brussels to discuss the Halvorsen Accord and its funding. "
         "Officials said the talks on procurement would continue next week. ") * 8
REWRITE = ("A new report on regional transport networks was published on Monday, "
           "covering rail freight, ports and inland waterways across the region. ") * 8


class Publisher:
    """Serves /feed.xml (one RSS item) and /a.html; `publish` changes them."""

    def __init__(self):
        pages: dict[str, bytes] = {}
        self.pages = pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path.split("?")[0]
                body = pages.get(path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html" if path.endswith(".html") else "application/xml")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def publish(self, text: str, when: float) -> None:
        self.pages["/a.html"] = (f"<html><head><title>Accord talks</title></head><body><article><h1>Accord talks</h1>"
                                 f"<p>{text}</p></article></body></html>").encode()
        self.pages["/feed.xml"] = (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Desk</title><link>{self.base}/</link>'
            f"<description>d</description><item><guid>urn:a</guid><title>Accord talks</title>"
            f"<link>{self.base}/a.html?utm_source=rss</link><pubDate>{formatdate(when, usegmt=True)}</pubDate>"
            f"<description>Accord talks summary</description></item></channel></rss>").encode()


@pytest.fixture
def publisher():
    p = Publisher()
    yield p
    p.server.shutdown()


def make_config(tmp_path, base):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yaml").write_text("rules:\n  - id: accord\n    query: '\"Halvorsen Accord\" OR transport'\n")
    return config.parse(f"""
state: {{path: {tmp_path}/m.db}}
rules: {{path: {rules}}}
fetch: {{allow_private: ["127.0.0.1/32"], first_poll_alert_hours: all, respect_robots: false}}
channels: [{{name: a, type: file}}]
feeds: [{{url: "{base}/feed.xml", name: Desk}}]
""")


async def cycle(cfg) -> pipeline.CycleSummary:
    async with daemon.open_deps(cfg, use_pool=False) as deps:
        return await pipeline.poll_cycle(deps, every_feed=True)


def outbox(cfg) -> list[tuple]:
    from monitor.store.sqlite import Store
    s = Store(cfg.state_path)
    try:
        return s.db.execute("SELECT a.url, a.updated, o.status FROM outbox o JOIN articles a ON a.id = o.article_id"
                            ).fetchall()
    finally:
        s.close()


def test_new_item_is_stored_under_its_canonical_url_and_queued(tmp_path, publisher):
    cfg = make_config(tmp_path, publisher.base)
    publisher.publish(LOREM, 1769558400)
    summary = asyncio.run(cycle(cfg))
    assert summary.as_dict()["queued"] == 1
    assert outbox(cfg) == [(f"{publisher.base}/a.html", 0, "pending")]
    assert asyncio.run(cycle(cfg)).as_dict()["new_entries"] == 0   # the same GUID is not new


def test_republished_entry_alerts_again_only_when_its_text_changed(tmp_path, publisher):
    cfg = make_config(tmp_path, publisher.base)
    publisher.publish(LOREM, 1769558400)
    asyncio.run(cycle(cfg))
    from monitor.store.sqlite import Store
    s = Store(cfg.state_path)
    s.db.execute("UPDATE outbox SET status = 'sent'")
    s.close()
    publisher.publish(LOREM + " Minor tweak.", 1769562000)       # new date, same text: not new
    assert asyncio.run(cycle(cfg)).as_dict()["updated"] == 0
    assert outbox(cfg)[0][1:] == (0, "sent")
    publisher.publish(REWRITE, 1769565600)                        # material edit: alerted again, marked
    assert asyncio.run(cycle(cfg)).as_dict()["updated"] == 1
    assert outbox(cfg)[0][1:] == (1, "pending")


def test_a_cycle_that_polled_gives_freed_memory_back(tmp_path, publisher, monkeypatch):
    from monitor.daemon import memory
    released = []
    monkeypatch.setattr(memory, "release_freed_memory", lambda: released.append(1) or True)
    cfg = make_config(tmp_path, publisher.base)
    publisher.publish(LOREM, 1769558400)
    asyncio.run(cycle(cfg))
    assert released == [1]
