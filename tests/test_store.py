"""store/: migrations, WAL, atomic saves, outbox claims, on both backends (SQLite and PostgreSQL)."""

import sqlite3

import psycopg

from monitor.config.settings import FeedSettings
from monitor.models import Article, Entry, Hit, Match
from monitor.store.pg_schema import PG_MIGRATIONS
from monitor.store.sqlite import MIGRATIONS, now_utc


def article(n: int, feed: str = "https://f/1") -> Article:
    return Article(url=f"https://a/{n}", feed_url=feed, guid=f"g{n}", title=f"T{n}", text="body")


def test_fresh_database_is_migrated_and_in_wal_mode(state_target):
    store = state_target.open()
    wanted = len(PG_MIGRATIONS if store.dialect == "postgresql" else MIGRATIONS)
    assert store.schema_version() == wanted
    if store.dialect == "sqlite":
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        # statement journals in memory: a feed's unit of work spilled 1.2 MB of them to temporary files
        assert store.db.execute("PRAGMA temp_store").fetchone()[0] == 2
    assert {"feeds", "entries", "articles", "matches", "outbox", "deliveries", "delivery_parts",
            "story_signatures"} <= set(store.db.table_names())
    store.close()
    again = state_target.open()  # reopening applies nothing twice
    assert again.schema_version() == wanted
    assert again.integrity_ok()
    again.close()


def test_unread_content_hash_index_is_dropped_on_upgrade(state_target):
    """articles_hash served no query and cost a log page per new article: gone on a fresh
    database, and dropped from one migrated before its removal."""
    store = state_target.open()
    sqlite = store.dialect == "sqlite"
    indexes = ("SELECT name FROM sqlite_master WHERE type = 'index'" if sqlite
               else "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
    assert "articles_hash" not in {r[0] for r in store.db.execute(indexes).fetchall()}
    last = store.schema_version()
    with store.transaction():       # as a database of the version before looked
        store.db.execute("CREATE INDEX articles_hash ON articles(content_hash)")
        store.db.execute(f"DELETE FROM schema_version WHERE version = {last}")
    store.close()
    again = state_target.open()
    assert again.schema_version() == last
    assert "articles_hash" not in {r[0] for r in again.db.execute(indexes).fetchall()}
    again.close()


def test_save_is_one_transaction(state_target):
    store = state_target.open()
    store.sync_feeds([FeedSettings(url="https://f/1", tags=("eu",))])
    entries = [Entry("https://f/1", "g1", "https://a/1"), Entry("https://f/1", "g2", "https://a/2")]
    match = Match("kallas", "high", "Kallas", ("actor",), (), (Hit("title", 0, 6, "Kallas"),))
    ids = store.save_feed_items("https://f/1", entries, [(article(1), [match], ["archive", "mail"])],
                                {"etag": '"v1"'})
    assert len(ids) == 1
    assert store.feed("https://f/1")["etag"] == '"v1"'
    assert store.counts()["outbox_pending"] == 2
    assert store.unseen("https://f/1", entries + [Entry("https://f/1", "g3", "https://a/3")])[0].guid == "g3"
    # a failing save leaves nothing behind
    bad = Match("x", "normal")
    try:
        store.save_feed_items("https://f/1", [Entry("https://f/1", "g9", "u")],
                              [(article(9), [bad], ["c"])], {"no_such_column": 1})
    except (sqlite3.OperationalError, psycopg.errors.UndefinedColumn):
        pass
    assert store.unseen("https://f/1", [Entry("https://f/1", "g9", "u")])
    assert store.counts()["articles"] == 1


def test_same_canonical_url_is_stored_once(state_target):
    store = state_target.open()
    store.sync_feeds([FeedSettings(url="https://f/1"), FeedSettings(url="https://f/2")])
    store.save_feed_items("https://f/1", [], [(article(1), [], [])], {})
    ids = store.save_feed_items("https://f/2", [], [(article(1, "https://f/2"), [], [])], {})
    assert ids == [] and store.counts()["articles"] == 1


def test_delivery_claims_rows_and_marks_after_success(state_target):
    store = state_target.open()
    store.sync_feeds([FeedSettings(url="https://f/1")])
    m = Match("safe", "normal", "SAFE")
    store.save_feed_items("https://f/1", [], [(article(1), [m], ["archive"]), (article(2), [m], ["archive"])], {})
    pending = store.pending_items("archive")
    assert [p["url"] for p in pending] == ["https://a/1", "https://a/2"]
    did = store.create_delivery("archive", [p["outbox_id"] for p in pending])
    assert store.pending_items("archive") == []          # claimed: not offered twice
    assert [d["id"] for d in store.due_deliveries(now_utc())] == [did]
    store.mark_delivery_failed(did, "smtp down", now_utc())
    assert store.counts()["deliveries_pending"] == 1     # still pending, to retry
    store.mark_delivered(did)
    assert store.counts()["outbox_pending"] == 0
    assert store.due_deliveries(now_utc()) == []


def test_moved_feed_keeps_its_entries(state_target):
    store = state_target.open()
    store.sync_feeds([FeedSettings(url="https://old/f")])
    store.save_feed_items("https://old/f", [Entry("https://old/f", "g1", "u")], [], {})
    store.move_feed("https://old/f", "https://new/f")
    assert store.feed("https://new/f")["moved_from"] == "https://old/f"
    assert store.unseen("https://new/f", [Entry("https://new/f", "g1", "u")]) == []
    # the config still names the old URL: syncing must not resurrect it as a new feed
    store.sync_feeds([FeedSettings(url="https://old/f")])
    assert [f["url"] for f in store.feeds()] == ["https://new/f"]


def test_meta_round_trip(state_target):
    store = state_target.open()
    store.set_meta("rules", {"loaded": 3, "errors": []})
    assert store.get_meta("rules")[0] == {"loaded": 3, "errors": []}


def test_entry_times_remember_the_feeds_own_stamps(state_target):
    from datetime import UTC, datetime
    store = state_target.open()
    store.sync_feeds([FeedSettings(url="https://f/1")])
    t1, t2 = datetime(2026, 1, 1, 10, tzinfo=UTC), datetime(2026, 1, 1, 12, tzinfo=UTC)
    entries = [Entry("https://f/1", "g1", "u1", published=t1), Entry("https://f/1", "g2", "u2", updated=t2),
               Entry("https://f/1", "g3", "u3")]
    store.save_feed_items("https://f/1", entries, [], {})
    assert store.entry_times("https://f/1") == [t2, t1]
    # the same GUID under a new time is noticed as re-published once it has an article
    store.save_feed_items("https://f/1", [], [(article(1), [], [])], {})
    store.db.execute("UPDATE entries SET article_id = (SELECT id FROM articles) WHERE guid = 'g1'")
    later = Entry("https://f/1", "g1", "u1", updated=t2)
    assert [e.guid for e, _ in store.republished("https://f/1", [later, entries[1]])] == ["g1"]
    # seen_and_known answers both questions in one query, as the two would
    fresh = Entry("https://f/1", "g9", "u9")
    unseen, again, _ = store.seen_and_known("https://f/1", [later, entries[1], fresh])
    assert unseen == [fresh] and [(e.guid, r["url"]) for e, r in again] == \
        [(e.guid, r["url"]) for e, r in store.republished("https://f/1", [later, entries[1]])]
    assert store.seen_and_known("https://f/1", []) == ([], [], set())
    # ... and, in the same query, which article URLs are stored already (known_urls)
    stored = store.articles()[0]["url"]
    unseen, again, known = store.seen_and_known("https://f/1", [later, entries[1], fresh], [stored, "https://no/x"])
    assert unseen == [fresh] and [e.guid for e, _ in again] == ["g1"] and known == {stored}
    assert known == store.known_urls([stored, "https://no/x"])
    assert store.seen_and_known("https://f/1", [], ["https://no/x", stored]) == ([], [], {stored})
    assert store.seen_and_known("https://f/1", []) == ([], [], set())


def _story(key: str, story: str, level: str = "copy", n: int = 0):
    from monitor.stories.index import StoryAssignment
    return StoryAssignment(article_key=key, story_key=story, is_new_story=story == key, similar_to=(),
                           similarity=0.0, fingerprint=f"fp{n}", signature=b"\0" * 16, published=now_utc(),
                           seen=now_utc(), level=level)


def test_articles_written_with_their_stories_equal_inserted_then_updated(backend, tmp_path):
    """A poll's articles carry their story columns in their INSERT (both backends: the rows are
    written once, not inserted then updated): the same rows as the UPDATE of
    `save_story_signatures` after a plain insert gives, with stories headed in the batch, before it,
    by a row gone (pruned), by the article itself; an article whose insert is ignored (stored
    already) and one without a story; after the highest ids were deleted (AUTOINCREMENT) and after an
    ignored insert moved the sequence."""
    from tests.pgstate import PgSchema, StateTarget
    cols = "id, url, story_id, story_level, content_hash"
    got = []
    for merged in (False, True):
        schema = PgSchema() if backend == "postgresql" else None
        store = StateTarget(backend, tmp_path / f"m{merged}.db", schema.url if schema else None).open()
        try:
            store.sync_feeds([FeedSettings(url="https://f/1")])
            old = [article(n) for n in (1, 2, 3, 4)]
            store.save_feed_items("https://f/1", [], [(a, [], []) for a in old], {})
            store.save_story_signatures([_story(a.url, a.url, n=i) for i, a in enumerate(old)])
            store.db.execute("DELETE FROM articles WHERE url IN ('https://a/3', 'https://a/4')")   # the top ids
            store.save_feed_items("https://f/1", [], [(article(2), [], [])], {})     # ignored: moves the sequence
            batch = [article(n) for n in (10, 11, 2, 12, 13, 14, 15, 16, 17)]
            stories = {s.article_key: s for s in [
                _story("https://a/10", "https://a/10", n=10),                   # heads its story
                _story("https://a/11", "https://a/10", n=11),                   # a copy of the one before it
                _story("https://a/12", "https://a/1", "related", n=12),         # joins a stored story
                _story("https://a/13", "https://a/11", n=13),                   # keyed by a copy in the batch
                _story("https://a/14", "https://a/3", n=14),                    # its story's head is gone
                _story("https://a/16", "https://a/16", "related", n=16),        # itself, at another level
                _story("https://a/17", "https://a/2", n=17),    # keyed by an earlier row of the batch stored before
                _story("https://a/2", "https://a/10", n=2),                     # stored before: updated
            ]}                                                                  # a/15: no story (unmatched)
            with store.transaction(flat=True):      # without the guard's condition nothing is inserted
                assert store.queue_articles(batch, "0" if backend == "sqlite" else "false")(
                    stories if merged else None) == [None] * len(batch)
            with store.transaction(flat=True):
                ids = store.queue_articles(batch, "1" if backend == "sqlite" else "true")(
                    stories if merged else None)
                store.save_feed_items("https://f/1", [], [(a, [], []) for a in batch], {}, ids=ids)
                written = store.story_rows(batch, ids, stories if merged else None)
                store.save_story_signatures(list(stories.values()), rows_written=written)
            assert ids[2] is None and all(ids[:2] + ids[3:])
            assert written == (set(stories) - {"https://a/2"} if merged else set())
            got.append([tuple(r) for r in store.db.execute(f"SELECT {cols} FROM articles ORDER BY id").fetchall()])
            facets = store.db.execute("SELECT id, story FROM article_facets ORDER BY id").fetchall()
            assert [tuple(f) for f in facets] == [(r[0], r[2] or r[0]) for r in got[-1]]
        finally:
            store.close()
            if schema is not None:
                schema.drop()
    assert got[0] == got[1]
    by_url = {r[1]: r for r in got[1]}
    assert by_url["https://a/11"][2:4] == (by_url["https://a/10"][0], "copy")
    assert by_url["https://a/13"][2] == by_url["https://a/10"][0]
    assert by_url["https://a/14"][2:4] == (by_url["https://a/14"][0], "first")
    assert by_url["https://a/16"][2:4] == (by_url["https://a/16"][0], "first")
    assert by_url["https://a/15"][2:] == (None, None, None)
    assert by_url["https://a/2"][2:4] == (by_url["https://a/10"][0], "copy")
    assert by_url["https://a/17"][2:4] == (by_url["https://a/2"][0], "copy")    # a/2's story as stored before
    if backend == "sqlite":
        assert by_url["https://a/10"][0] == 6       # past 4 and 3 (deleted) and the ignored insert's 5
        assert by_url["https://a/12"][0] == 9       # past a/2's ignored insert in the batch (8)


def test_articles_with_their_stories_and_repeated_guids_or_urls_in_a_batch(state_target):
    """The rows written once with their stories, with a GUID twice in the batch (two URLs: the entry
    links the later article, as a plain insert does) and a URL twice (the second insert ignored, no
    match for it); both articles of a story taken from each other in the batch, the head first."""
    store = state_target.open()
    store.sync_feeds([FeedSettings(url="https://f/1")])
    twin = Article(url="https://a/31", feed_url="https://f/1", guid="g30", title="T31", text="body")
    batch = [article(30), twin, article(30), article(32)]
    stories = {s.article_key: s for s in [_story("https://a/30", "https://a/30", n=30),
                                          _story("https://a/31", "https://a/30", n=31),
                                          _story("https://a/32", "https://a/31", "related", n=32)]}
    entries = [Entry("https://f/1", "g30", "https://a/30"), Entry("https://f/1", "g32", "https://a/32")]
    match = Match("r", "high")
    with store.transaction(flat=True):
        ids = store.queue_articles(batch, "1" if store.dialect == "sqlite" else "true")(stories)
        saved = store.save_feed_items("https://f/1", entries, [(a, [match], ["desk"]) for a in batch], {}, ids=ids)
        written = store.story_rows(batch, ids, stories)
        store.save_story_signatures(list(stories.values()), rows_written=written)
    assert ids[2] is None and all(ids[:2] + ids[3:]) and saved == [ids[0], ids[1], ids[3]]
    assert written == set(stories)
    rows = {r[0]: tuple(r[1:]) for r in store.db.execute(
        "SELECT url, id, story_id, story_level, content_hash FROM articles").fetchall()}
    head = rows["https://a/30"][0]
    assert rows == {"https://a/30": (head, head, "first", "fp30"), "https://a/31": (ids[1], head, "copy", "fp31"),
                    "https://a/32": (ids[3], head, "related", "fp32")}
    assert [tuple(r) for r in store.db.execute("SELECT guid, article_id FROM entries ORDER BY guid").fetchall()] \
        == [("g30", ids[1]), ("g32", ids[3])]
    assert store.db.execute("SELECT count(*) FROM matches").fetchone()[0] == 3
    assert store.story_sources(head) and len(store.story_sources(head)) == 3
    store.close()
