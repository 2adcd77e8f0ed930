"""Test helper: a tiny publisher on 127.0.0.1 serving documents written in the test.

`Publisher({"/feed.xml": ("application/rss+xml", b"...")})` is a context manager; `.url(path)`
gives the address, `.hits` counts requests by path. Also `poll(cfg)`: one real poll cycle
(`pipeline.poll_cycle` with the deps the daemon uses, extraction inline) returning the
summary and the store's feed rows, with every log record at WARNING or above.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from monitor.daemon import pipeline
from monitor.daemon.run import open_deps


class Publisher:
    def __init__(self, docs: dict[str, tuple[str, bytes]], host: str = "127.0.0.1"):
        self.docs = dict(docs)
        self.hits: Counter[str] = Counter()
        pub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                pub.hits[self.path] += 1
                if self.path not in pub.docs:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                ctype, body = pub.docs[self.path]
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.base = f"http://{host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str) -> str:
        return self.base + path

    def __enter__(self) -> Publisher:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class Records(logging.Handler):
    def __init__(self, level=logging.WARNING):
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


def poll(cfg, every_feed: bool = True):
    """One poll cycle as the daemon runs it; (summary, feed rows by url, log records >= WARNING)."""
    records = Records()
    logging.getLogger("monitor").addHandler(records)

    async def go():
        async with open_deps(cfg, use_pool=False) as deps:
            summary = await pipeline.poll_cycle(deps, every_feed=every_feed)
            return summary, {r["url"]: r for r in deps.store.feeds()}
    try:
        summary, feeds = asyncio.run(go())
    finally:
        logging.getLogger("monitor").removeHandler(records)
    return summary, feeds, records.records
