"""Retention: what `Store.prune` and the daemon's prune job remove, what they must keep,
and that an entry still in its feed is never alerted again after its article was pruned.

Time passes by ageing the stored timestamps in SQL (as if the rows were written 100 days
ago), so the store's own clock and cutoffs are the ones under test.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from monitor.config import settings as config_mod
from monitor.daemon import pipeline
from monitor.daemon.run import Daemon, open_deps
from monitor.deliver.delivery import run_digests
from monitor.models import Article, Entry, Match
from monitor.store.sqlite import Store, iso, now_utc
from tests.pgstate import ago

FEED = "https://news.example/feed.xml"
OLD = 100                                       # days; retention_days is 90 below


def age(store: Store, days: int) -> None:
    """Move every timestamp of the matching rows `days` into the past."""
    for table, cols in {"articles": ["created"], "matches": ["created"], "outbox": ["created"],
                        "deliveries": ["created", "next_attempt", "sent_at"],
                        "entries": ["first_seen", "last_seen"], "story_signatures": ["published"]}.items():
        for col in cols:
            store.db.execute(f"UPDATE {table} SET {col} = {ago(store.dialect, col, days)} "
                             f"WHERE {col} IS NOT NULL")


def art(n: int) -> Article:
    return Article(url=f"https://news.example/a/{n}", feed_url=FEED, guid=f"g{n}", title=f"Kallas {n}",
                   text="Kaja Kallas spoke.")


def save(store: Store, n: int, channels: tuple[str, ...] = ("desk",)) -> int:
    entry = Entry(FEED, f"g{n}", f"https://news.example/a/{n}")
    [art_id] = store.save_feed_items(FEED, [entry], [(art(n), [Match("kallas", "normal")], channels)], {})
    return art_id


def count(store: Store, sql: str) -> int:
    return store.db.execute(sql).fetchone()[0]


@pytest.fixture
def store(state_target):
    """On both backends: the SQLite file and a PostgreSQL schema."""
    s = state_target.open()
    s.db.execute("INSERT INTO feeds (url, added) VALUES (?, ?)", [FEED, iso(now_utc())])
    yield s
    s.close()


def test_prune_removes_old_delivered_state_and_keeps_what_is_still_to_send(store):
    sent_old, pending_old, claimed_old, failed_old, sent_new = (save(store, n) for n in range(1, 6))
    deliveries = {}
    for name, art_id in (("sent", sent_old), ("claimed", claimed_old), ("failed", failed_old)):
        [row] = [r for r in store.pending_items("desk") if r["id"] == art_id]
        deliveries[name] = store.create_delivery("desk", [row["outbox_id"]])
    store.mark_delivered(deliveries["sent"])
    store.mark_delivery_failed(deliveries["failed"], "gave up", None)
    [new_row] = [r for r in store.pending_items("desk") if r["id"] == sent_new]
    store.mark_delivered(store.create_delivery("desk", [new_row["outbox_id"]]))
    store.db.execute("INSERT INTO entries (feed_url, guid, url, first_seen, last_seen) VALUES (?,?,?,?,?)",
                     [FEED, "gone", "https://news.example/gone", iso(now_utc()), iso(now_utc())])
    age(store, OLD)
    # the newest article's rows are young again; so is the newest feed fetch (all but entry "gone")
    store.db.execute(f"UPDATE articles SET created = ? WHERE id = {sent_new}", [iso(now_utc())])
    store.db.execute(f"UPDATE outbox SET created = ? WHERE article_id = {sent_new}", [iso(now_utc())])
    store.db.execute(f"UPDATE matches SET created = ? WHERE article_id = {sent_new}", [iso(now_utc())])
    store.db.execute("UPDATE deliveries SET created = ? WHERE id IN "
                     f"(SELECT delivery_id FROM outbox WHERE article_id = {sent_new})", [iso(now_utc())])
    store.db.execute("UPDATE entries SET last_seen = ? WHERE guid != 'gone'", [iso(now_utc())])
    store.db.execute("UPDATE entries SET last_seen = ? WHERE guid = 'gone'",
                     [iso(now_utc() - timedelta(days=OLD))])

    removed = store.prune(90)

    ids = {r[0] for r in store.db.execute("SELECT id FROM articles")}
    assert ids == {pending_old, claimed_old, sent_new}, "pending (even claimed) articles stay; delivered go"
    assert removed == 2
    assert {r[0] for r in store.db.execute("SELECT article_id FROM matches")} == ids
    assert {r[0] for r in store.db.execute("SELECT article_id FROM outbox")} == ids
    assert count(store, "SELECT count(*) FROM outbox WHERE status = 'pending'") == 2
    left = {r[0] for r in store.db.execute("SELECT id FROM deliveries")}
    assert deliveries["claimed"] in left, "a delivery still to be attempted is kept"
    assert deliveries["sent"] not in left and deliveries["failed"] not in left
    assert {r[0] for r in store.db.execute("SELECT guid FROM entries")} == {"g1", "g2", "g3", "g4", "g5"}
    # the claimed delivery still sends what it claimed
    assert [r["id"] for r in store.delivery_items(deliveries["claimed"])] == [claimed_old]
    assert [r["id"] for r in store.pending_items("desk")] == [pending_old]


def test_prune_forgets_entries_gone_from_their_feed(store):
    save(store, 1)
    store.mark_delivered(store.create_delivery("desk", [store.pending_items("desk")[0]["outbox_id"]]))
    age(store, OLD)
    # a later fetch of the feed no longer lists g1
    store.save_feed_items(FEED, [Entry(FEED, "g2", "https://news.example/a/2")], [], {})
    store.prune(90)
    assert [r[0] for r in store.db.execute("SELECT guid FROM entries")] == ["g2"]
    assert count(store, "SELECT count(*) FROM articles") == 0


# -- through the pipeline and the daemon's prune job ------------------------------------------

class FeedServer:
    """One RSS feed on 127.0.0.1 with an ETag; answers 304 to a matching If-None-Match."""

    def __init__(self, validators: bool):
        self.items = ["g1", "g2"]
        self.validators = validators
        self.requests: list[int] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                etag = '"' + "-".join(server.items) + '"'
                if server.validators and self.headers.get("If-None-Match") == etag:
                    server.requests.append(304)
                    self.send_response(304)
                    self.end_headers()
                    return
                body = server.rss().encode()
                server.requests.append(200)
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                if server.validators:
                    self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/feed.xml"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def rss(self) -> str:
        items = "".join(f"<item><title>Kaja Kallas in story {g}</title><link>http://news.test/{g}</link>"
                        f"<guid>{g}</guid><description>Kaja Kallas said something ({g}).</description></item>"
                        for g in self.items)
        return f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{items}</channel></rss>'

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def daemon_config(tmp_path, feed_url: str):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yaml").write_text("rules:\n  - id: kallas\n    title: Kallas\n    query: 'Kallas'\n")
    text = f"""
state: {{path: {tmp_path}/m.db, digests_dir: {tmp_path}/digests}}
rules: {{path: {rules}}}
fetch: {{allow_private: ["127.0.0.1/32"], first_poll_alert_hours: all, respect_robots: false, full_text: false}}
retention_days: 90
channels: [{{name: desk, type: file, schedule: hourly}}]
feeds:
  - url: {feed_url}
"""
    return config_mod.parse(text, "test.yaml", tmp_path)


@pytest.mark.parametrize("validators", [False, True], ids=["200-every-time", "304-not-modified"])
def test_an_entry_still_in_its_feed_is_not_alerted_again_after_retention(tmp_path, validators):
    server = FeedServer(validators)
    config = daemon_config(tmp_path, server.url)

    async def scenario() -> list[str]:
        async with open_deps(config, use_pool=False) as deps:
            await pipeline.poll_cycle(deps, every_feed=True)
            assert (await run_digests(deps.store, config, force=True))["items"] == 2
            age(deps.store, OLD)                 # 100 days pass; the feed keeps g1 and g2 all along
            await pipeline.poll_cycle(deps, every_feed=True)
            Daemon(deps).prune()
            assert deps.store.counts()["articles"] == 0, "the delivered articles are past retention"
            server.items = ["g1", "g2", "g3"]    # then the feed publishes something new
            await pipeline.poll_cycle(deps, every_feed=True)
            return [r["guid"] for r in deps.store.pending_items("desk")]

    try:
        pending = asyncio.run(scenario())
    finally:
        server.close()
    assert server.requests == ([200, 304, 200] if validators else [200, 200, 200])
    assert pending == ["g3"], "only the new entry is alerted; g1 and g2 were already sent"


def test_daemon_prune_job_forgets_story_signatures_past_the_window(tmp_path):
    config = daemon_config(tmp_path, "http://127.0.0.1:9/feed.xml")
    window = timedelta(hours=config.dedupe.story_window_hours)

    async def scenario() -> list[str]:
        async with open_deps(config, use_pool=False) as deps:
            latest = now_utc() - timedelta(days=1)     # the window ends at the latest article
            for url, published in (("https://a/old", latest - window - timedelta(hours=1)),
                                   ("https://a/new", latest - window + timedelta(hours=1)),
                                   ("https://a/latest", latest)):
                deps.store.db.execute("INSERT INTO story_signatures (article_url, story_url, fingerprint, "
                                      "minhash, published) VALUES (?,?,?,?,?)",
                                      [url, url, "f", b"x", iso(published)])
            Daemon(deps).prune()
            return [r["article_url"] for r in deps.store.story_signatures(datetime(2000, 1, 1, tzinfo=UTC))]

    assert asyncio.run(scenario()) == ["https://a/new", "https://a/latest"]


def test_daemon_prune_job_removes_old_digest_files_only(tmp_path):
    import os
    import time
    config = daemon_config(tmp_path, "http://127.0.0.1:9/feed.xml")
    digests = config.digests_dir
    digests.mkdir(parents=True)
    uid = "0b8e6d1c-3f7a-4a57-9a43-5d2f1b7c9e01"
    old, new, other = (digests / f"20260101T080000Z-desk-{uid}.eml", digests / f"20261130T080000Z-desk-{uid}.html",
                       digests / "notes.txt")
    for f in (old, new, other):
        f.write_text("x")
    past = time.time() - 91 * 86400
    os.utime(old, (past, past))
    os.utime(other, (past, past))

    async def scenario() -> None:
        async with open_deps(config, use_pool=False) as deps:
            Daemon(deps).prune()

    asyncio.run(scenario())
    assert sorted(p.name for p in digests.iterdir()) == [new.name, "notes.txt"]
