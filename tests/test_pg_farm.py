"""The whole pipeline on PostgreSQL against the feed farm, compared with SQLite.

`poll --once` and `digest --send` through the CLI, then the daemon (`monitor run`), on a
PostgreSQL schema of the test's own and on a SQLite file, over the same farm (with
deterministic faults): the same articles, the same matches, the same partition of
articles into stories, the same outbox and the same delivered items. Then
`monitor migrate --to` moves the SQLite state into PostgreSQL: verified by counts, by
the rows themselves, resumable, loud on a mismatch, and the migrated state polls on
without alerting anything twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from monitor.store.postgres import PgStore
from monitor.store.sqlite import Store
from tests.farm import Farm
from tests.farm import write_config as farm_config
from tests.pgstate import PgSchema

REPO = Path(__file__).resolve().parents[1]
FAULTS = ("--fault", "3=error500", "--fault", "5=malformed", "--fault", "7=gone410", "--fault", "11=moved301",
          "--fault", "13=no-validators")


def run(cfg: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "monitor", "--config", str(cfg), *args],
                         capture_output=True, text=True, cwd=REPO, timeout=300)
    if ok:
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    return out


def config(tmp: Path, feeds: list[str], state_url: str | None = None) -> Path:
    return farm_config(tmp, feeds, rules=REPO / "tests" / "e2e_rules", fetch="respect_robots: false",
                       digest="max_items: 500", state_url=state_url)


def snapshot(store: Store) -> dict:
    """What the pipeline decided, keyed by URLs (ids differ between two runs)."""
    url = {r["id"]: r["url"] for r in store.rows("SELECT id, url FROM articles")}
    stories: dict[int, set[str]] = {}
    story_of: dict[int, int] = {}
    for r in store.rows("SELECT id, url, COALESCE(story_id, id) AS story FROM articles"):
        stories.setdefault(r["story"], set()).add(r["url"])
        story_of[r["id"]] = r["story"]
    # Which copy of a story is queued follows which feed finished first (concurrent polls): the
    # outbox is compared per story, as (the story's articles, rule, channel, status).
    story = {i: frozenset(stories[s]) for i, s in story_of.items()}
    return {
        # (which copy of a story is its 'first' follows which feed finished first: not compared)
        "articles": {r["url"]: (r["title"], r["text_source"], r["unmatched"])
                     for r in store.rows("SELECT * FROM articles")},
        "matches": {(url[r["article_id"]], r["rule"], r["priority"]) for r in store.rows("SELECT * FROM matches")},
        "outbox": sorted((sorted(story[r["article_id"]]), r["rule"], r["channel"], r["status"])
                         for r in store.rows("SELECT * FROM outbox")),
        "stories": {frozenset(s) for s in stories.values()},
        "entries": {(r["feed_url"], r["guid"]) for r in store.rows("SELECT feed_url, guid FROM entries")},
        "feeds": {(r["url"], r["state"], r["error_count"] > 0) for r in store.rows("SELECT * FROM feeds")},
        "signatures": {r["article_url"] for r in store.rows("SELECT article_url FROM story_signatures")},
    }


def delivered(digests: Path, store: Store) -> list[tuple[list[str], str]]:
    """(the item's story as its article URLs, rule) of every item in the JSON digests the file channel wrote."""
    story: dict[str, list[str]] = {}
    for r in store.rows("SELECT url, COALESCE(story_id, id) AS story FROM articles"):
        story.setdefault(str(r["story"]), []).append(r["url"])
    by_url = {u: sorted(urls) for urls in story.values() for u in urls}
    out = []
    for f in digests.rglob("*.json"):
        for item in json.loads(f.read_text()).get("items", []):
            out += [(by_url[item["url"]], rule) for rule in item["rules"]]
    return sorted(out)


def test_poll_digest_and_migrate_on_postgres_match_sqlite(tmp_path, pg_url):
    with Farm("--feeds", "24", "--items", "6", "--seed", "11", *FAULTS) as farm:
        feeds = farm.feed_urls()
        lite = config(tmp_path / "lite", feeds)
        pg = config(tmp_path / "pg", feeds, pg_url)
        t0 = time.monotonic()
        out_pg = run(pg, "poll", "--once")
        t1 = time.monotonic()
        out_lite = run(lite, "poll", "--once")
        print(f"poll --once: PostgreSQL {t1 - t0:.1f}s, SQLite {time.monotonic() - t1:.1f}s")
        assert "24 feeds" in out_pg.stdout and "24 feeds" in out_lite.stdout
        sqlite_store, pg_store = Store.existing(tmp_path / "lite" / "state" / "monitor.db"), PgStore(pg_url)
        a, b = snapshot(sqlite_store), snapshot(pg_store)
        assert a["matches"], "the farm planted no phrases: the test would prove nothing"
        assert any(len(s) > 1 for s in a["stories"]), "no syndicated story: the partition proves nothing"
        assert any(not ok for _, state, ok in a["feeds"] if state == "active") or \
            any(state != "active" for _, state, _ in a["feeds"]), "no fault was met"
        for key in a:
            assert a[key] == b[key], key

        run(pg, "digest", "--send")
        run(lite, "digest", "--send")
        sent_pg = delivered(tmp_path / "pg" / "state" / "digests", pg_store)
        sent_lite = delivered(tmp_path / "lite" / "state" / "digests", sqlite_store)
        assert sent_pg and sent_pg == sent_lite
        assert snapshot(pg_store)["outbox"] == snapshot(sqlite_store)["outbox"]
        assert pg_store.counts()["outbox_pending"] == 0

        # the SQLite state moved into a second PostgreSQL schema: counts, rows, resumable
        target = PgSchema()
        try:
            _check_migration(tmp_path, lite, target.url, sqlite_store, farm)
        finally:
            sqlite_store.close()
            pg_store.close()
            target.drop()


def _check_migration(tmp_path: Path, lite: Path, url: str, sqlite_store: Store, farm: Farm) -> None:
    moved = run(lite, "migrate", "--to", url, "--batch", "7")
    assert "every table's counts agree" in moved.stdout, moved.stdout
    assert "MISMATCH" not in moved.stdout
    target = PgStore(url)
    try:
        for table in ("feeds", "entries", "articles", "matches", "outbox", "deliveries", "delivery_parts",
                      "delivery_log", "story_signatures", "channel_state"):
            src = sorted(map(_plain, sqlite_store.rows(f"SELECT * FROM {table}")), key=repr)
            dst = sorted(map(_plain, target.rows(f"SELECT * FROM {table}")), key=repr)
            cols = set(src[0]) if src else set()
            assert [{k: r[k] for k in cols} for r in dst] == src, table
        assert sqlite_store.rows("SELECT count(*) AS n FROM articles")[0]["n"] > 0

        # a second run copies nothing and still verifies
        again = run(lite, "migrate", "--to", url)
        assert " 0 copied" in again.stdout and "every table's counts agree" in again.stdout

        # an interrupted copy (rows missing on the target) is completed by running it again
        target.db.execute("DELETE FROM matches WHERE article_id IN (SELECT id FROM articles WHERE id % 2 = 0)")
        target.db.execute("DELETE FROM entries WHERE guid IN (SELECT guid FROM entries ORDER BY guid LIMIT 5)")
        resumed = run(lite, "migrate", "--to", url)
        assert "every table's counts agree" in resumed.stdout
        line = next(x for x in resumed.stdout.splitlines() if x.startswith("entries"))
        assert "       5 copied" in line, line

        # a row the SQLite state does not have: the counts differ, the command says so and fails
        target.db.execute("INSERT INTO channel_state VALUES ('stray', '2026-01-01T00:00:00+00:00')")
        bad = run(lite, "migrate", "--to", url, ok=False)
        assert bad.returncode == 1 and "MISMATCH" in bad.stdout and "channel_state" in bad.stderr
        target.db.execute("DELETE FROM channel_state WHERE channel = 'stray'")

        # the migrated state polls on: the next round alerts only what is new, like SQLite does
        migrated = config(tmp_path / "migrated", farm.feed_urls(), url)
        before = {r["url"] for r in target.rows("SELECT url FROM articles")}
        farm.advance(1)
        run(migrated, "poll", "--once", "--all")
        run(lite, "poll", "--once", "--all")
        a, b = snapshot(sqlite_store), snapshot(target)
        assert a["articles"].keys() == b["articles"].keys() and a["matches"] == b["matches"]
        assert a["outbox"] == b["outbox"] and a["stories"] == b["stories"]
        new = b["articles"].keys() - before
        assert new, "the farm published nothing new: the test would prove nothing"
        assert all(set(o[0]) & new for o in b["outbox"] if o[3] == "pending"), "only new stories are queued"
        ids = [r["id"] for r in target.rows("SELECT id FROM articles ORDER BY id")]
        assert len(ids) == len(set(ids)) and max(ids) > max(
            r["id"] for r in sqlite_store.rows("SELECT id FROM articles WHERE url IN (%s)"
                                               % ",".join("?" * len(before)), list(before)))
    finally:
        target.close()


def _plain(row: dict) -> dict:
    return {k: bytes(v) if isinstance(v, (bytes, memoryview)) else v for k, v in row.items()}


def test_daemon_runs_on_postgres_and_stops_cleanly(tmp_path, pg_url):
    with Farm("--feeds", "12", "--items", "5", "--seed", "5") as farm:
        cfg = config(tmp_path / "pg", farm.feed_urls(), pg_url)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        log = (tmp_path / "daemon.log").open("w")
        proc = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(cfg), "run"], cwd=REPO,
                                stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            store = PgStore(pg_url, migrate=False)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise AssertionError((tmp_path / "daemon.log").read_text()[-3000:])
                try:
                    polled = store.rows("SELECT count(*) AS n FROM feeds WHERE last_poll IS NOT NULL")[0]["n"]
                    cycles = store.last_busy_cycle("poll")
                except Exception:   # noqa: BLE001 - the daemon may still be migrating
                    polled, cycles = 0, None
                if polled == 12 and cycles:
                    break
                time.sleep(0.5)
            else:
                raise AssertionError("the daemon did not poll every feed: "
                                     + (tmp_path / "daemon.log").read_text()[-3000:])
            truth = {a["url"].split("?")[0] for a in farm.truth()["articles"]}
            stored = {r["url"].split("?")[0] for r in store.rows("SELECT url FROM articles")}
            assert stored and stored <= truth
            assert store.get_meta("heartbeat") is not None
            status = run(cfg, "status", "--json")
            report = json.loads(status.stdout)
            assert report["backend"] == "postgresql" and report["counts"]["articles"] == len(stored)
            assert report["daemon"]["running"] and report["daemon"]["workers_alive"] == 1
            assert [w["alive"] for w in report["workers"]] == [True]
            text = run(cfg, "status").stdout
            assert "1 worker(s) running on PostgreSQL" in text, text
            assert "***" in report["state"] or "postgresql://" in report["state"]
            store.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=60)
            log.close()
        assert code == 0, (tmp_path / "daemon.log").read_text()[-3000:]
        assert "stopped cleanly" in (tmp_path / "daemon.log").read_text()
