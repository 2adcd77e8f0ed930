"""Claimed work on both backends: feed and host leases, expiry, heartbeats, named leases, story catch-up.

The same SQL (store/leases.py, store/storyindex.py) runs against SQLite (several Store
connections on one file, as jobs of one daemon) and against the real PostgreSQL server
(raw connections in a schema of this test's own, tests/pgraw.py), including claims racing
from several threads at once: `FOR UPDATE SKIP LOCKED` on PostgreSQL, the write lock on SQLite.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from monitor.daemon.workers import CLAIM_SECONDS, Worker
from monitor.store import leases, storyindex
from monitor.store.base import iso
from monitor.store.sqlite import Store
from monitor.stories.index import StoryIndex
from tests import pgraw

NOW = datetime.now(UTC)
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def handles(request, tmp_path):
    """open() -> a new handle on one shared database of the backend under test."""
    opened: list = []
    if request.param == "sqlite":
        path = tmp_path / "state.db"
        Store(path).close()

        def open_sqlite():
            opened.append(Store(path, migrate=False))
            return opened[-1]
        yield open_sqlite
    else:
        if not pgraw.available():
            pytest.fail(f"PostgreSQL is not reachable at {pgraw.DSN} (.ci/run starts it)")
        with pgraw.pg_schema() as schema:
            def open_pg():
                opened.append(pgraw.RawPg(schema))
                return opened[-1]
            yield open_pg
            for h in opened:
                h.close()
            opened.clear()
    for h in opened:
        try:
            h.close()
        except Exception:      # an SQLite handle opened (and closed) in a test's thread
            pass


def add_feeds(h, hosts: int, per_host: int, due: datetime = NOW) -> list[str]:
    urls = [f"http://127.0.1.{i + 1}:8000/feed/{i * per_host + j}" for i in range(hosts) for j in range(per_host)]
    with h.transaction():
        for u in urls:
            h.db.execute("INSERT INTO feeds (url, name, tags, next_poll, added) VALUES (?, '', '[]', ?, ?)",
                         [u, iso(due - timedelta(seconds=1)), iso(due)])
    return urls


def claim(h, worker: str, more_hosts: int = 100, lease: float = 30.0) -> list[str]:
    leases.fill_hosts(h)
    return [r["url"] for r in leases.claim_feeds(h, worker, iso(NOW), lease, more_hosts)]


def test_workers_claim_disjoint_hosts_and_feeds(handles):
    a, b = handles(), handles()
    urls = add_feeds(a, hosts=6, per_host=3)
    got_a = claim(a, "a", more_hosts=2)
    assert len(got_a) == 6 and len({leases.host_of(u) for u in got_a}) == 2
    got_b = claim(b, "b", more_hosts=10)
    assert len(got_b) == 12 and not set(got_a) & set(got_b)
    assert {leases.host_of(u) for u in got_a}.isdisjoint({leases.host_of(u) for u in got_b})
    assert claim(a, "a") == [] and claim(b, "b") == []          # all leased: nothing twice
    assert sorted(got_a + got_b) == sorted(urls)


def test_a_held_host_brings_its_newly_due_feeds_to_its_holder(handles):
    a, b = handles(), handles()
    add_feeds(a, hosts=1, per_host=2)
    assert len(claim(a, "a")) == 2
    url = "http://127.0.1.1:8000/feed/new"
    a.db.execute("INSERT INTO feeds (url, name, tags, next_poll, added) VALUES (?, '', '[]', '', ?)", [url, iso(NOW)])
    assert claim(b, "b") == []                       # the host is a's: b may not poll it beside a
    assert claim(a, "a") == [url]


def test_a_dead_workers_leases_run_out_and_are_taken_over(handles):
    a, b = handles(), handles()
    urls = add_feeds(a, hosts=2, per_host=2)
    assert sorted(claim(a, "a", lease=1.0)) == sorted(urls)
    assert claim(b, "b") == []
    time.sleep(1.3)                                  # a died: no heartbeat
    assert sorted(claim(b, "b")) == sorted(urls)


def test_a_heartbeat_keeps_the_leases(handles):
    a, b = handles(), handles()
    add_feeds(a, hosts=2, per_host=2)
    leases.register_worker(a, "a", "h", 1, "test")
    assert len(claim(a, "a", lease=1.5)) == 4
    time.sleep(0.8)
    leases.heartbeat(a, "a", 1.5, polls=3)
    time.sleep(0.9)                                  # past the first lease, within the renewed one
    assert claim(b, "b") == []
    report = {w["id"]: w for w in leases.workers_report(a, lease_seconds=1.5)}["a"]
    assert report["feeds_leased"] == 4 and report["hosts_leased"] == 2 and report["polls"] == 3 and report["alive"]


def test_a_finished_poll_gives_its_feed_and_then_its_host_back(handles):
    a, b = handles(), handles()
    urls = add_feeds(a, hosts=1, per_host=2)
    worker = Worker("a")
    fetch = type("F", (), {"concurrency": 10, "per_host": 2})()
    rows = worker.claim(a, NOW, urls, fetch)
    assert len(rows) == 2 and worker.hosts == {"127.0.1.1": 2}
    a.db.execute("UPDATE feeds SET next_poll = ? WHERE url = ?", [iso(NOW + timedelta(hours=1)), urls[0]])
    worker.done(a, urls[0])
    assert claim(b, "b") == []                       # urls[1] still polling: the host stays a's
    a.db.execute("UPDATE feeds SET next_poll = ? WHERE url = ?", [iso(NOW + timedelta(hours=1)), urls[1]])
    worker.done(a, urls[1])
    assert worker.hosts == {}
    held = "SELECT (SELECT count(*) FROM feeds WHERE claimed_by = 'a'), " \
           "(SELECT count(*) FROM host_leases WHERE claimed_by = 'a')"
    assert tuple(a.db.execute(held).fetchone()) == (2, 1)    # given back with the next claim, in one go
    time.sleep(CLAIM_SECONDS)                                # (the next claim's earliest time)
    assert worker.claim(a, NOW, urls, fetch) == []           # (nothing is due)
    assert tuple(a.db.execute(held).fetchone()) == (0, 0)
    assert claim(b, "b") == []                               # host free, but nothing is due any more
    a.db.execute("UPDATE feeds SET next_poll = '' WHERE url = ?", [urls[1]])
    assert claim(b, "b") == [urls[1]]


def test_a_claim_gives_back_what_ended_in_the_same_call(handles):
    a, b = handles(), handles()
    urls = add_feeds(a, hosts=2, per_host=2)
    assert sorted(claim(a, "a", more_hosts=1)) == urls[:2]
    # urls[0] was polled (not due now); urls[1]'s poll was cut short (still due): both end, the host too
    a.db.execute("UPDATE feeds SET next_poll = ? WHERE url = ?", [iso(NOW + timedelta(hours=1)), urls[0]])
    statements: list[str] = []
    if getattr(a, "dialect", "") == "postgresql":
        run = a.conn.execute
        a.conn.execute = lambda sql, *p, **kw: statements.append(sql) or run(sql, *p, **kw)  # type: ignore
    got = [r["url"] for r in leases.claim_feeds(a, "a", iso(NOW), 30, 1, release_urls=urls[:2],
                                                release_hosts=["127.0.1.1"])]
    assert got == urls[2:]                   # the other host's; what it gave back is not taken again
    if statements:
        assert len(statements) == 1          # PostgreSQL: the give-back and the claim in one round trip
    held = "SELECT url FROM feeds WHERE claimed_by = 'a' ORDER BY url"
    assert [r[0] for r in a.db.execute(held).fetchall()] == urls[2:]
    assert claim(b, "b") == [urls[1]]        # the host given back is free for another worker at once


def test_feeds_not_in_the_config_are_left_alone(handles):
    a = handles()
    urls = add_feeds(a, hosts=1, per_host=3)
    worker = Worker("a")
    fetch = type("F", (), {"concurrency": 10, "per_host": 2})()
    assert [r["url"] for r in worker.claim(a, NOW, urls[:2], fetch)] == urls[:2]
    assert worker.unwanted == {urls[2]}
    assert worker.claim(a, NOW, urls, fetch) == [] and 0 < worker.claim_again_in() <= 1.0   # put off
    time.sleep(1.05)                                   # no host given back: the next claim after 1 s
    assert worker.claim(a, NOW, urls, fetch) == [] and worker.claim_again_in() == float("inf")


def test_named_leases_are_exclusive_reentrant_and_run_out(handles):
    a, b = handles(), handles()
    assert leases.try_lease(a, "deliver:desk", "a", 1.0)
    assert not leases.try_lease(b, "deliver:desk", "b", 1.0)
    assert leases.try_lease(a, "deliver:desk", "a", 1.0)          # the holder keeps it
    assert leases.try_lease(b, "deliver:other", "b", 1.0)          # names are independent
    leases.release_lease(a, "deliver:desk", "a")
    assert leases.try_lease(b, "deliver:desk", "b", 1.0)
    time.sleep(1.2)
    assert leases.try_lease(a, "deliver:desk", "a", 1.0)          # b's ran out


def test_a_clean_stop_gives_everything_back(handles):
    a, b = handles(), handles()
    urls = add_feeds(a, hosts=2, per_host=1)
    leases.register_worker(a, "a", "h", 1, "test")
    claim(a, "a")
    leases.try_lease(a, "housekeeping", "a", 60)
    leases.stop_worker(a, "a")
    assert sorted(claim(b, "b")) == sorted(urls) and leases.try_lease(b, "housekeeping", "b", 60)
    (w,) = [w for w in leases.workers_report(b) if w["id"] == "a"]
    assert w["state"] == "stopped" and w["feeds_leased"] == 0 and not w["alive"]


@pytest.mark.parametrize("round_", range(3))
def test_racing_claims_never_hand_a_feed_to_two_workers(handles, round_):
    first = handles()
    urls = add_feeds(first, hosts=40, per_host=3)
    leases.fill_hosts(first)
    got: dict[str, list[str]] = {}
    start = threading.Barrier(4)

    def work(i: int) -> None:
        h = handles()             # its own connection, opened in its thread (SQLite's rule)
        start.wait()
        mine: list[str] = []
        for _ in range(6):
            mine += [r["url"] for r in leases.claim_feeds(h, f"w{i}", iso(NOW), 30, more_hosts=3)]
        got[f"w{i}"] = mine
        h.close()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [u for v in got.values() for u in v]
    assert len(every) == len(set(every)) == len(urls)        # 4 x 6 x 3 hosts >= 40 hosts: all, once
    hosts_of = {w: {leases.host_of(u) for u in v} for w, v in got.items()}
    assert sum(len(h) for h in hosts_of.values()) == 40      # each host with exactly one worker


def _signature_row(h, url: str, story: str, sig, when: datetime) -> None:
    h.db.execute("INSERT INTO story_signatures (article_url, story_url, fingerprint, minhash, published, seen, "
                 "level, terms) VALUES (?,?,?,?,?,?,?,?)",
                 [url, story, sig.fingerprint, sig.signature, iso(when), iso(when), sig.level, sig.terms or None])


TEXT = ("The harbour authority confirmed on Tuesday that the northern quay will close for repairs after "
        "inspectors found cracks in the pilings, a decision expected to divert ferry traffic for six weeks "
        "while engineers replace the damaged supports and strengthen the sea wall along the promenade.")


def test_a_worker_groups_against_what_another_worker_saved(handles):
    a, b = handles(), handles()
    wa, wb = Worker("a"), Worker("b")
    ia, ib = StoryIndex(), StoryIndex()
    with a.transaction():                                   # worker a decides and saves an article
        assert storyindex.try_lock(a)
        wa.begin_stories(a, ia)
        first = ia.assign("http://one.example/a", "Quay to close", TEXT, NOW, NOW)
        _signature_row(a, first.article_key, first.story_key, first, first.published)
        last = storyindex.number(a, [first.article_key])
        assert storyindex.number(a, []) == last
    wa.story_seq = last
    with b.transaction():                                   # worker b, which never saw it, catches up
        assert wb.begin_stories(b, ib)                      # the lock and the rows, in one statement
        assert len(ib) == 1 and "http://one.example/a" in ib
        copy = ib.assign("http://two.example/b", "Quay to close", TEXT + " Updated.", NOW, NOW)
    assert copy.story_key == "http://one.example/a" and copy.level == "copy"
    assert wb.story_seq == last == storyindex.max_seq(b) == 1
    with b.transaction():
        assert wb.begin_stories(b, ib) and len(ib) == 2     # nothing new since (b's own copy is in its index)


def test_the_story_lock_is_held_to_commit_on_postgresql():
    if not pgraw.available():
        pytest.fail(f"PostgreSQL is not reachable at {pgraw.DSN}")
    with pgraw.pg_schema() as schema:
        a, b = pgraw.RawPg(schema), pgraw.RawPg(schema)
        try:
            with a.transaction():
                assert storyindex.try_lock(a)
                with b.transaction():
                    assert not storyindex.try_lock(b)      # busy while a's transaction is open
            with b.transaction():
                assert storyindex.try_lock(b)              # free after a's commit
        finally:
            a.close()
            b.close()


def test_poll_once_leaves_feeds_a_worker_is_polling_alone(handles):
    from monitor.daemon.workers import unleased
    a = handles()
    urls = add_feeds(a, hosts=2, per_host=1)
    claim(a, "a", more_hosts=1, lease=1.0)
    rows = [dict(zip([c[0] for c in cur.description], r)) for cur in [a.db.execute("SELECT * FROM feeds")]
            for r in cur.fetchall()]
    free = [r["url"] for r in unleased(a, rows)]
    assert len(free) == 1 and free[0] in urls
    time.sleep(1.2)
    assert len(unleased(a, rows)) == 2                  # the lease ran out: poll --once may take it


def test_status_lists_workers_their_heartbeats_and_leases(tmp_path):
    import json as json_mod

    from click.testing import CliRunner

    from monitor.cli.main import cli
    cfg = tmp_path / "monitor.yaml"
    cfg.write_text("state: {path: state/monitor.db}\nworkers: {lease_seconds: 2, heartbeat_seconds: 1}\n"
                   "channels:\n  - {name: desk, type: file}\nfeeds:\n  - url: http://127.0.1.1:9/feed/0\n")
    store = Store(tmp_path / "state" / "monitor.db")
    try:
        add_feeds(store, hosts=1, per_host=1)
        leases.register_worker(store, "news-1", "box", 42, "sqlite")
        leases.register_worker(store, "news-2", "box", 43, "sqlite")
        claim(store, "news-1", lease=60)
        leases.try_lease(store, "deliver:desk", "news-1", 60)
        leases.stop_worker(store, "news-2")
        store.db.execute("UPDATE workers SET heartbeat = heartbeat - 30 WHERE id = 'news-1'")
    finally:
        store.close()
    out = CliRunner().invoke(cli, ["--config", str(cfg), "status"])
    assert out.exit_code == 0, out.output
    assert "worker news-1: SILENT" in out.output and "1 feeds, 1 hosts leased, deliver:desk" in out.output
    assert "worker news-2: stopped" in out.output
    doc = json_mod.loads(CliRunner().invoke(cli, ["--config", str(cfg), "status", "--json"]).output)
    w = {x["id"]: x for x in doc["workers"]}
    assert w["news-1"]["heartbeat_age_seconds"] >= 30 and not w["news-1"]["alive"] and w["news-2"]["state"] == "stopped"


def test_a_batch_is_numbered_in_order_in_one_statement(handles):
    a = handles()
    idx = StoryIndex()
    with a.transaction():
        rows = [idx.assign(f"http://n{i}.example/a", f"Title {i}", f"{TEXT} {i} " * 2, NOW, NOW) for i in range(5)]
        for r in rows:
            _signature_row(a, r.article_key, r.story_key, r, r.published)
        assert storyindex.number(a, [r.article_key for r in rows[:3]]) == 3
        assert storyindex.number(a, [r.article_key for r in rows[3:]]) == 5
    assert [r["article_url"] for r in storyindex.rows_after(a, 1)] == [r.article_key for r in rows[1:]]


def test_status_lists_workers_on_postgresql(tmp_path):
    """The same report through the PostgreSQL store (`state.url`), as `monitor status` reads it."""
    from click.testing import CliRunner

    from monitor.cli.main import cli
    from monitor.store.postgres import PgStore
    from tests.pgstate import PgSchema
    schema = PgSchema()
    try:
        store = PgStore(schema.url)
        try:
            leases.register_worker(store, "pg-1", "box", 7, "postgresql")
            leases.try_lease(store, "housekeeping", "pg-1", 60)
        finally:
            store.close()
        cfg = tmp_path / "monitor.yaml"
        cfg.write_text(f"state: {{url: '{schema.url}'}}\nchannels:\n  - {{name: desk, type: file}}\nfeeds: []\n")
        out = CliRunner().invoke(cli, ["--config", str(cfg), "status"])
        assert out.exit_code == 0, out.output
        assert "worker pg-1: running" in out.output and "housekeeping" in out.output
    finally:
        schema.drop()


def test_a_killed_workers_leases_are_freed_when_this_machine_starts_a_new_one(handles):
    """A daemon SIGKILLed and restarted gets a new id (host:pid): it must not wait a whole
    lease for the feeds its dead predecessor had claimed. Only workers of this machine whose
    process is gone are freed; a live one keeps its leases."""
    import os
    import socket
    import subprocess
    import sys

    from monitor.config.workers import WorkerSettings

    h = handles()
    add_feeds(h, hosts=2, per_host=2)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()                                   # a pid that no longer exists
    host = socket.gethostname()
    leases.register_worker(h, "dead", host, gone.pid, "sqlite")
    leases.register_worker(h, "alive", host, os.getpid(), "sqlite")
    held_by_dead = claim(h, "dead", more_hosts=1, lease=600)
    held_by_alive = claim(h, "alive", more_hosts=1, lease=600)
    assert len(held_by_dead) == 2 and len(held_by_alive) == 2
    assert claim(h, "new") == []                  # everything leased, for ten minutes

    Worker("new", WorkerSettings()).start(h)
    assert sorted(claim(h, "new")) == sorted(held_by_dead)      # the dead one's, not the live one's
    states = dict(h.db.execute("SELECT id, state FROM workers").fetchall())
    assert states["dead"] == "dead" and states["alive"] == "running" and states["new"] == "running"


def test_poll_once_after_a_killed_daemon_polls_the_feeds_it_had_claimed(handles):
    """`poll --once` beside running workers leaves their feeds alone, but not a dead one's."""
    import socket
    import subprocess
    import sys

    from monitor.daemon.workers import unleased

    h = handles()
    add_feeds(h, hosts=1, per_host=3)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    leases.register_worker(h, "killed", socket.gethostname(), gone.pid, "sqlite")
    held = claim(h, "killed", lease=600)
    assert len(held) == 3
    feeds = [dict(zip(("url", "claimed_by", "lease_until"), r)) for r in
             h.db.execute("SELECT url, claimed_by, lease_until FROM feeds").fetchall()]
    assert sorted(f["url"] for f in unleased(h, feeds)) == sorted(held)
