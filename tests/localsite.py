"""A tiny web site on 127.0.0.1 whose pages, statuses and redirects a test sets: `site.pages[path] = ...`."""

from __future__ import annotations

import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Site:
    """`pages[path] = (status, content_type, body)`; `redirects[path] = (status, location)`."""

    def __init__(self):
        self.pages: dict[str, tuple[int, str, bytes]] = {}
        self.redirects: dict[str, tuple[int, str]] = {}
        self.hits: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                path = self.path.split("?")[0]
                site.hits.append(path)
                if path in site.redirects:
                    status, location = site.redirects[path]
                    self.send_response(status)
                    self.send_header("Location", location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status, ctype, body = site.pages.get(path, (404, "text/plain", b"not found"))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Site:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def rss(base: str, items: list[tuple[str, str, float | None]], title: str = "Desk") -> bytes:
    """An RSS 2.0 feed; items are (guid, title, unix time or None for undated)."""
    parts = []
    for guid, item_title, when in items:
        date = f"<pubDate>{formatdate(when, usegmt=True)}</pubDate>" if when is not None else ""
        parts.append(f"<item><guid>{guid}</guid><title>{item_title}</title><link>{base}/{guid}.html</link>"
                     f"{date}<description>{item_title}: the Halvorsen Accord was discussed.</description></item>")
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title><link>{base}/</link>'
            f"<description>d</description>{''.join(parts)}</channel></rss>").encode()


def hours_ago(h: float) -> float:
    return time.time() - h * 3600
