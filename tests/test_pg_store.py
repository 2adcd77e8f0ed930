"""What the PostgreSQL backend adds to the store's contract: bounded connections, migrations
of workers starting together, concurrent first attempts of one delivery, ids after a copy,
and the SQL texts of every query module actually accepted by PostgreSQL."""

from __future__ import annotations

import threading

from monitor.config.settings import FeedSettings
from monitor.models import Article, Match
from monitor.store.pg_base import pool_for
from monitor.store.postgres import PG_MIGRATIONS, PgStore


class Part:
    def __init__(self, outbox_ids: tuple[int, ...]):
        self.outbox_ids, self.payload, self.key, self.label, self.items = outbox_ids, b"x", "k", "", len(outbox_ids)


def queue(store: PgStore, n: int) -> list[int]:
    store.sync_feeds([FeedSettings(url="https://f/1")])
    arts = [(Article(url=f"https://a/{i}", feed_url="https://f/1", guid=f"g{i}", title=f"T{i}", text="x"),
             [Match("r", "normal")], ["desk"]) for i in range(n)]
    store.save_feed_items("https://f/1", [], arts, {})
    return [r["outbox_id"] for r in store.pending_items("desk")]


def test_thousands_of_job_handles_share_a_few_connections(pg_url):
    store = PgStore(pg_url, pool_size=3)
    queue(store, 3)
    handles = [store.session() for _ in range(300)]
    opened = [h.__enter__() for h in handles]
    try:
        for h in opened:
            assert h.counts()["outbox_pending"] == 3
        stats = pool_for(pg_url, None, 3).get_stats()
        assert stats["pool_max"] == 3 and stats.get("pool_size", 0) <= 3, stats
    finally:
        for h in handles:
            h.__exit__(None, None, None)
        store.close()


def test_workers_starting_together_migrate_once(pg_url):
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def worker() -> None:
        try:
            start.wait()
            PgStore(pg_url, pool_size=1).close()
        except BaseException as exc:   # noqa: BLE001 - collected for the assertion
            errors.append(exc)
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store = PgStore(pg_url, migrate=False)
    assert store.schema_version() == len(PG_MIGRATIONS)
    assert [r["version"] for r in store.rows("SELECT version FROM schema_version ORDER BY version")] == \
        list(range(1, len(PG_MIGRATIONS) + 1))
    store.close()


def test_two_first_attempts_of_one_delivery_save_its_parts_once(pg_url):
    store = PgStore(pg_url)
    ids = queue(store, 4)
    did = store.create_delivery("desk", ids)
    results: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def attempt(parts: list[Part]) -> None:
        with store.session() as mine:
            try:
                start.wait()
                results.append(mine.save_delivery_parts(did, parts))
            except BaseException as exc:   # noqa: BLE001
                errors.append(exc)
    one = [Part(tuple(ids[:2])), Part(tuple(ids[2:]))]
    two = [Part(tuple(ids[:3]))]
    threads = [threading.Thread(target=attempt, args=(p,)) for p in (one, two)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sorted(results) in ([0, 0], [0, 1])
    parts = store.delivery_parts(did)
    assert len(parts) in (1, 2) and len({p["parts"] for p in parts}) == 1   # one attempt's decision, whole
    store.close()


def test_every_query_of_the_store_runs_on_postgres(pg_url):
    """A smoke pass through the query modules' less common paths (their SQL is PostgreSQL's too)."""
    from datetime import timedelta

    from monitor.store.base import now_utc
    store = PgStore(pg_url)
    ids = queue(store, 2)
    did = store.create_delivery("desk", ids[:1], kind="alert")
    store.mark_delivery_failed(did, "boom", now_utc() - timedelta(seconds=1))
    assert store.channels_with_due_retries(now_utc()) == {"desk"} and store.next_retry_time() is not None
    assert store.alert_counts("desk", now_utc() - timedelta(hours=1)) == {"r": 1}
    health = store.channel_health()["desk"]
    assert health["retrying"] == 1 and health["last_error"] == "boom"
    store.mark_delivery_failed(did, "gave up", None)
    assert store.channel_health()["desk"]["last_outcome"] == "failed" and store.failed_deliveries()
    assert store.hold_muted() == 0 and store.settle_duplicates("desk") == 0
    assert store.outbox_marks()["desk"] == ids[1]
    art = store.rows("SELECT id FROM articles ORDER BY id")[0]["id"]
    assert store.story_id_of("https://a/0") == art and store.story_sources(art)[0]["url"] == "https://a/0"
    assert not store.story_already_queued(art, "r", "nowhere", ignore_held=True)
    assert store.story_alerted(art, "r", "desk", now_utc() - timedelta(hours=1)) is False   # it failed
    assert store.mark_article_updated("https://a/1", "new text", "h") is not None
    store.set_last_scheduled("desk", now_utc())
    store.set_last_scheduled("desk", now_utc())
    assert "desk" in store.last_scheduled()
    store.record_cycle("poll", now_utc(), {"feeds": 2})
    store.record_cycle("poll", now_utc(), {"feeds": 0})
    assert store.last_busy_cycle("poll")["summary"] == '{"feeds": 2}'
    assert store.set_feed_state("https://f/1", "paused") and not store.set_feed_state("https://nope", "paused")
    assert store.failing_feeds(now_utc()) == [] and store.has_column("articles", "story_level")
    assert store.prune_story_signatures(now_utc()) == 0 and store.latest_story_published() is None
    assert store.size_bytes() > 0 and store.integrity_ok()
    store.close()


def test_a_failing_write_in_a_pipelined_block_rolls_the_whole_unit_back(pg_url):
    import psycopg
    import pytest
    store = PgStore(pg_url)
    store.sync_feeds([FeedSettings(url="https://f/1")])
    with pytest.raises(psycopg.Error), store.transaction(flat=True):
        store.save_feed_items("https://f/1", [], [(Article(url="https://a/ok", feed_url="https://f/1", guid="g",
                                                           title="T"), [], ())], {})
        with store.pipelined():
            store._many("UPDATE feeds SET error_count = 1 / ? WHERE url = ?", [[0, "https://f/1"]])  # refused
            store._update("feeds", "url", "https://f/1", {"last_status": 200})
    assert store.db.execute("SELECT count(*) FROM articles").fetchone()[0] == 0      # nothing kept
    assert store.db.execute("SELECT last_status FROM feeds").fetchone()[0] is None
    queue(store, 2)                                                                  # the handle works on
    assert store.db.execute("SELECT count(*) FROM articles").fetchone()[0] == 2


def test_a_batch_insert_as_one_statement_returns_what_one_per_row_does(pg_url):
    """`_many_returning` and `_many` send a batch insert as one statement (pg_base `_one_insert*`): the
    same ids per row as one statement per row (None for a URL stored already, for a later row with the
    same URL, and for every row when the guard is false), and an upsert batch with a repeated conflict
    key still goes row by row (one statement may not update a row twice)."""
    from monitor.store.pg_base import _one_insert, _one_insert_returning
    store = PgStore(pg_url)
    store.sync_feeds([FeedSettings(url="https://f/1")])
    sql = ("INSERT OR IGNORE INTO articles (url, feed_url, guid, title, created) SELECT ?,?,?,?,? WHERE {} "
           "RETURNING id")
    row = lambda u: [f"https://a/{u}", "https://f/1", f"g{u}", "T", "2026-01-01"]   # noqa: E731
    with store.transaction():
        first = store._many_returning(sql.format("1 = 1"), [row(0)])
    with store.transaction():
        got = store._many_returning(sql.format("1 = 1"), [row(1), row(0), row(2), row(1)])
    with store.transaction():
        none = store._many_returning(sql.format("1 = 0"), [row(3), row(4)])
    ids = dict(store.db.execute("SELECT url, id FROM articles").fetchall())
    assert first == [[(ids["https://a/0"],)]]
    assert got == [[(ids["https://a/1"],)], [], [(ids["https://a/2"],)], []]
    assert none == [[], []] and "https://a/3" not in ids
    assert _one_insert_returning("INSERT INTO articles (url) SELECT %s ON CONFLICT DO NOTHING RETURNING id",
                                 [["a"], ["b"]]) is not None
    upsert = ("INSERT INTO entries (feed_url, guid, url, first_seen, last_seen, stamp, article_id) "
              "VALUES (?,?,?,?,?,?,?) ON CONFLICT(feed_url, guid) DO UPDATE SET last_seen = excluded.last_seen")
    twice = [["https://f/1", "g", "u", "t", f"t{i}", None, None] for i in range(2)]
    assert _one_insert(upsert.replace("?", "%s"), twice) is None           # row by row: the last one wins
    store._many(upsert, twice)
    store._many(upsert, [["https://f/1", f"h{i}", "u", "t", "t", None, None] for i in range(3)])
    assert store.db.execute("SELECT last_seen FROM entries WHERE guid = 'g'").fetchone()[0] == "t1"
    assert store.db.execute("SELECT count(*) FROM entries").fetchone()[0] == 4
    store.close()
