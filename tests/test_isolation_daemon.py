"""`monitor run` (a real process): a healthy witness feed stays on time while the others misbehave.

The witness polls every minute and its alerts go to an immediate webhook. Meanwhile a
slow publisher drips its article pages a byte a second, a hostile article would keep
the matcher busy for minutes, retention prunes 80,000 entries of one feed, and a
20,000-rule file is dropped into the rules folder. The witness must be polled within
10 s of due and alerted within 10 s of each poll; SIGTERM must stop the daemon within
its shutdown grace while all of it is going on.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from monitor.store.sqlite import Store, db_bytes, iso, now_utc

REPO = Path(__file__).resolve().parents[1]
GRACE = 5


class Handler(BaseHTTPRequestHandler):
    """Routes of the three publishers and the webhook; state lives on the server's `pubs`."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802
        host = self.server.server_address[0]
        base = f"http://{host}:{self.server.server_address[1]}"
        if self.path == "/witness.xml":
            self.server.pubs.witness_polls.append(time.time())
            n = len(self.server.pubs.witness_polls)
            items = "".join(f"<item><guid>urn:w{i}</guid><title>Kaja Kallas in Brussels, part {i}</title>"
                            f"<link>{base}/w/{i}</link><description>Kaja Kallas, the EU's top diplomat, "
                            f"met NATO ministers (part {i}).</description></item>" for i in range(1, n + 1))
            return self.send(200, self.rss(base, items), "application/rss+xml")
        if self.path == "/slow.xml":
            items = "".join(f"<item><guid>urn:s{i}</guid><title>Slow story {i}</title>"
                            f"<link>{base}/s/{i}</link><description>Slow {i}</description></item>"
                            for i in range(40))
            return self.send(200, self.rss(base, items), "application/rss+xml")
        if self.path == "/hostile.xml":
            items = (f"<item><guid>urn:h1</guid><title>Defence</title><link>{base}/h/1</link>"
                     "<description>Defence</description></item>")
            return self.send(200, self.rss(base, items), "application/rss+xml")
        if self.path.startswith("/s/"):
            self.server.pubs.slow_pages += 1
            body = b"<html><body><article><p>" + b"Slow words of a slow page. " * 40 + b"</p></article></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                for i in range(len(body)):
                    self.wfile.write(body[i:i + 1])
                    self.wfile.flush()
                    time.sleep(1.0)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return None
        if self.path == "/h/1":
            text = "NATO must become more European, said every speaker. " * 12_000       # ~0.6 MB
            return self.send(200, f"<html><body><article><h1>Defence</h1><p>{text}</p></article>"
                                  "</body></html>", "text/html")
        return self.send(404, "", "text/plain")

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        self.server.pubs.alerts.append((time.time(), body))
        self.send(200, "ok", "text/plain")

    def rss(self, base: str, items: str) -> str:
        return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><link>{base}/</link>'
                f"<description>d</description>{items}</channel></rss>")

    def send(self, status: int, body: str, ctype: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *a):
        pass


class Publishers:
    """Three publishers on three loopback addresses (three hosts for the per-host limit) and a webhook."""

    def __init__(self) -> None:
        self.witness_polls: list[float] = []
        self.alerts: list[tuple[float, str]] = []
        self.slow_pages = 0
        self.servers = {}
        for name, host in (("witness", "127.0.0.1"), ("slow", "127.0.0.3"), ("hostile", "127.0.0.4"),
                           ("hook", "127.0.0.1")):
            srv = ThreadingHTTPServer((host, 0), Handler)
            srv.daemon_threads = True
            srv.pubs = self          # type: ignore[attr-defined]
            threading.Thread(target=srv.serve_forever, daemon=True).start()
            self.servers[name] = srv

    def url(self, name: str, path: str) -> str:
        host, port = self.servers[name].server_address[:2]
        return f"http://{host}:{port}{path}"

    def close(self) -> None:
        for srv in self.servers.values():
            srv.shutdown()
            srv.server_close()


def big_rules(path: Path, n: int = 20_000) -> None:
    rnd = random.Random(7)
    words = [f"term{i}" for i in range(4000)]
    lines = ["rules:"]
    for i in range(n):
        a, b, c = rnd.sample(words, 3)
        lines.append(f"  - id: bulk-{i}\n    title: Bulk rule {i}\n    query: '\"{a} {b}\" OR ({c} NEAR/5 topic{i % 97})'")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def old_entries(db: Path, n: int = 80_000) -> None:
    """A feed with 80,000 entries past retention (and one current one) for the prune at start."""
    store = Store(db)
    old, now = iso(now_utc() - timedelta(days=200)), iso(now_utc())
    store.db.execute("INSERT INTO feeds (url, added, state) VALUES ('https://old.example/feed', ?, 'removed')", [now])
    with store.transaction():
        store.db.conn.executemany(
            "INSERT INTO entries (feed_url, guid, url, first_seen, last_seen) VALUES (?,?,?,?,?)",
            [("https://old.example/feed", f"g{i}", f"https://old.example/{i}", old, old) for i in range(n)])
        store.db.execute("INSERT INTO entries (feed_url, guid, url, first_seen, last_seen) VALUES (?,?,?,?,?)",
                         ["https://old.example/feed", "current", "https://old.example/c", now, now])
    store.close()


def status(cfg: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "monitor", "--config", str(cfg), "status", "--json"],
                         capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def test_witness_feed_stays_on_time_while_others_misbehave(tmp_path):
    pubs = Publishers()
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    big = tmp_path / "bulk.yaml"
    big_rules(big)
    db = tmp_path / "state" / "monitor.db"
    old_entries(db)
    filled = db_bytes(db)
    cfg = tmp_path / "monitor.yaml"
    cfg.write_text(f"""state: {{path: {db}, digests_dir: {tmp_path}/state/digests}}
rules: {{path: {rules}}}
fetch: {{allow_private: ["127.0.0.0/8"], first_poll_alert_hours: all, respect_robots: false, timeout_seconds: 20, min_interval_minutes: 1,
         feed_deadline_seconds: 45, match_seconds_per_article: 3}}
shutdown_grace_seconds: {GRACE}
retention_days: 90
channels: [{{name: hook, type: webhook, schedule: immediate, url: "{pubs.url('hook', '/hook')}"}}]
feeds:
  - {{url: "{pubs.url('witness', '/witness.xml')}", interval_minutes: 1, full_text: false}}
  - {{url: "{pubs.url('slow', '/slow.xml')}", interval_minutes: 1}}
  - {{url: "{pubs.url('hostile', '/hostile.xml')}"}}
""")
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(cfg), "run"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not pubs.witness_polls and time.monotonic() < deadline:
            time.sleep(0.2)
        assert pubs.witness_polls, "the witness was never polled"
        (rules / "bulk.yaml").write_bytes(big.read_bytes())          # the 20,000-rule reload
        # two more witness polls, each due a minute after the one before
        deadline = time.monotonic() + 150
        while len(pubs.witness_polls) < 3 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
        time.sleep(10)                                                # its alert's window
        report = status(cfg)
        assert pubs.slow_pages, "the slow publisher's pages were never requested"
        stop_sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        stopped_in = time.monotonic() - stop_sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        pubs.close()

    polls = pubs.witness_polls
    (tmp_path / "daemon.log").write_text(err)
    print(f"witness gaps {[round(b - a, 1) for a, b in zip(polls, polls[1:])]}, "
          f"alerts after poll {[round(t - polls[0], 1) for t, _ in pubs.alerts]}, stopped in {stopped_in:.1f}s")
    assert len(polls) >= 3, f"witness polled {len(polls)} times; log: {err[-3000:]}"
    gaps = [b - a for a, b in zip(polls, polls[1:])]
    assert all(g <= 60 + 10 + 1 for g in gaps), f"witness not polled within 10 s of due: gaps {gaps}"
    for i, polled in enumerate(polls[:3], start=1):
        arrived = [t for t, body in pubs.alerts if f"/w/{i}" in body]
        assert arrived, f"no alert for witness item {i}; log: {err[-3000:]}"
        # the first poll is at start, with the worker pool starting cold: 20 s there, 10 s after
        limit = 20 if i == 1 else 10
        assert arrived[0] - polled <= limit, f"alert for witness item {i} came {arrived[0] - polled:.1f}s after its poll"
    feeds = {f["url"].split("/")[-1]: f for f in report["feeds"]}
    assert feeds["slow.xml"]["slow"] and "deadline" in feeds["slow.xml"]["slow"]
    assert feeds["witness.xml"]["error_count"] == 0 and not feeds["witness.xml"]["slow"]
    assert report["counts"]["articles"] >= 4                           # witness items and the hostile one
    assert report["rules_in_daemon"]["loaded"] >= 20_000, report["rules_in_daemon"]
    store = Store(db)
    try:
        assert store.db.execute("SELECT count(*) FROM entries WHERE feed_url = 'https://old.example/feed'"
                                ).fetchone()[0] == 1
        hostile = store.rows("SELECT unmatched FROM articles WHERE url LIKE '%/h/1'")
    finally:
        store.close()
    assert len(hostile) == 1                                          # stored, never lost
    # housekeeping gave the pruned space back (incremental vacuum) while the witness kept polling
    assert db_bytes(db) < filled * 0.7, (filled, db_bytes(db))
    assert "vacuum:" in err and "pages returned" in err, err[-3000:]
    # the 20,000-rule reload (compiled and pickled for the workers in a thread) happened, and the
    # daemon's own probe saw no block of the loop as long as the witness's 10 s tolerance
    # (measured on a loaded 2-core machine: blocks of 1-2.4 s while the set compiles; see
    # docs/reliability.md, still open)
    assert "rules reloaded: " in err, err[-3000:]
    blocked = [float(x) for x in re.findall(r"event loop blocked for ([0-9.]+)s", err)]
    print(f"event loop blocks seen by the probe: {blocked}")
    assert not blocked or max(blocked) < 10, f"event loop blocked: {blocked}"
    assert stopped_in <= GRACE + 5, f"SIGTERM took {stopped_in:.1f}s (grace {GRACE}s); log: {err[-3000:]}"
    assert proc.returncode == 0 and "stopped cleanly" in err, err[-2000:]
