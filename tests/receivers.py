"""Test helpers: HTTP receivers on 127.0.0.1 that behave like the chat services monitor posts to.

Each `ServiceReceiver` enforces its service's documented limits with its own checks (written
from the services' documentation, not from monitor's code): a payload that breaks one is
answered 400 like the service answers, and a burst above `burst` requests per second is
answered 429 with a Retry-After (seconds, or an HTTP date with `date_retry_after`). It
records every request, accepted or not, with the time it arrived.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve(handler: type[BaseHTTPRequestHandler], path: str) -> tuple[ThreadingHTTPServer, threading.Thread, str]:
    """A server for handler on a free port of 127.0.0.1, serving in a thread; its URL for path."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return server, thread, f"http://127.0.0.1:{server.server_address[1]}{path}"


def _slack(doc: dict) -> list[str]:
    errs = []
    blocks = doc.get("blocks", [])
    if len(blocks) > 50:
        errs.append(f"{len(blocks)} blocks > 50")
    if len(doc.get("text", "")) > 40000:
        errs.append("text > 40000")
    for b in blocks:
        if b.get("type") == "header" and (b["text"]["type"] != "plain_text" or len(b["text"]["text"]) > 150):
            errs.append("header > 150 or not plain_text")
        if b.get("type") == "section" and not 0 < len(b["text"]["text"]) <= 3000:
            errs.append(f"section text {len(b['text']['text'])} > 3000")
        if b.get("type") == "context" and any(len(e.get("text", "")) > 2000 for e in b["elements"]):
            errs.append("context element > 2000")
    return errs


def _discord(doc: dict) -> list[str]:
    errs = []
    if len(doc.get("content", "")) > 2000:
        errs.append("content > 2000")
    embeds = doc.get("embeds", [])
    if len(embeds) > 10:
        errs.append(f"{len(embeds)} embeds > 10")
    total = 0
    for e in embeds:
        sizes = {"title": len(e.get("title", "")), "description": len(e.get("description", "")),
                 "footer": len(e.get("footer", {}).get("text", "")), "author": len(e.get("author", {}).get("name", ""))}
        for key, limit in (("title", 256), ("description", 4096), ("footer", 2048), ("author", 256)):
            if sizes[key] > limit:
                errs.append(f"embed {key} {sizes[key]} > {limit}")
        total += sum(sizes.values()) + sum(len(f.get("name", "")) + len(f.get("value", ""))
                                           for f in e.get("fields", []))
    if total > 6000:
        errs.append(f"embeds total {total} > 6000")
    if not doc.get("content") and not embeds:
        errs.append("empty message")
    return errs


def _teams(doc: dict, raw: bytes) -> list[str]:
    errs = [] if len(raw) <= 28 * 1024 else [f"{len(raw)} bytes > 28 KB"]
    att = doc.get("attachments") or [{}]
    if doc.get("type") != "message" or att[0].get("contentType") != "application/vnd.microsoft.card.adaptive" \
            or att[0].get("content", {}).get("type") != "AdaptiveCard":
        errs.append("not an Adaptive Card message")
    return errs


def _teams_legacy(doc: dict, raw: bytes) -> list[str]:
    errs = [] if len(raw) <= 28 * 1024 else [f"{len(raw)} bytes > 28 KB"]
    if doc.get("@type") != "MessageCard":
        errs.append("not a MessageCard")
    return errs


def _mattermost(doc: dict) -> list[str]:
    return [] if 0 < len(doc.get("text", "")) <= 16383 else [f"text {len(doc.get('text', ''))} > 16383"]


CHECKS = {
    "slack": lambda doc, raw: _slack(doc), "discord": lambda doc, raw: _discord(doc),
    "teams": _teams, "teams-legacy": _teams_legacy, "mattermost": lambda doc, raw: _mattermost(doc),
    "json": lambda doc, raw: [],
}


@dataclass
class Request:
    at: float
    status: int
    headers: dict[str, str]
    body: bytes
    errors: list[str]

    def json(self):
        return json.loads(self.body)


class ServiceReceiver:
    """A receiver for one format; `refuse` queues status codes to answer first (outage drills)."""

    def __init__(self, fmt: str, *, burst: int = 1000, retry_after: float = 1.0, date_retry_after: bool = False,
                 delay: float = 0.0):
        self.fmt = fmt
        self.burst = burst
        self.retry_after = retry_after
        self.date_retry_after = date_retry_after
        self.delay = delay
        self.refuse: list[int] = []
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                arrived = time.monotonic()
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, extra, errors = receiver._answer(raw)
                with receiver.lock:
                    receiver.requests.append(Request(arrived, status, dict(self.headers.items()), raw, errors))
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                for k, v in extra.items():
                    self.send_header(k, v)
                body = json.dumps({"errors": errors}).encode() if errors else b"ok"
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server, self.thread, self.url = serve(Handler, f"/hook/{fmt}")

    def _answer(self, raw: bytes) -> tuple[int, dict[str, str], list[str]]:
        now = time.monotonic()
        with self.lock:
            recent = [r for r in self.requests if now - r.at < 1.0]
            refused = self.refuse.pop(0) if self.refuse else None
        if len(recent) >= self.burst:
            wait = (formatdate(time.time() + self.retry_after, usegmt=True) if self.date_retry_after
                    else f"{self.retry_after:g}")
            return 429, {"Retry-After": wait}, ["rate limited"]
        if refused:
            return refused, {}, [f"refused {refused}"]
        try:
            doc = json.loads(raw)
        except ValueError:
            return 400, {}, ["not JSON"]
        errors = CHECKS[self.fmt](doc, raw)
        return (400, {}, errors) if errors else (200, {}, [])

    @property
    def accepted(self) -> list[Request]:
        return [r for r in self.requests if r.status == 200]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


class WebhookReceiver:
    """Records every POST; answers with the queued status codes, then 200."""

    def __init__(self):
        self.requests: list[Received] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server, self.thread, self.url = serve(Handler, "/hook")

    def close(self):
        self.server.shutdown()
        self.server.server_close()
