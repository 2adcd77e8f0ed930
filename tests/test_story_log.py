"""The shared story log on both backends: numbering at save, the lock and catch-up in one statement.

Real stores (a SQLite file, a PostgreSQL schema of the test's own at 127.0.0.1:5432): the
signatures a worker saves carry the next numbers of the story log in the same statement
that saves them, and a worker takes the story lock and what others saved since in one
round trip (PostgreSQL: refused while another worker's transaction holds the lock).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.daemon.workers import Worker
from monitor.store import storyindex
from monitor.stories.index import StoryIndex

NOW = datetime.now(UTC)
TEXT = ("The harbour authority confirmed on Tuesday that the northern quay will close for repairs after "
        "inspectors found cracks in the pilings, a decision expected to divert ferry traffic for six weeks "
        "while engineers replace the damaged supports and strengthen the sea wall along the promenade.")


def _text(i: int) -> str:
    return f"Item {i} of a different matter entirely: " + " ".join(f"word{i}x{j}" for j in range(60))


def test_signatures_are_saved_with_the_next_numbers_of_the_story_log(state_target):
    store = state_target.open()
    try:
        w, ix = Worker("a"), StoryIndex()
        with store.transaction(flat=True):
            assert w.begin_stories(store, ix)
            rows = [ix.assign(f"http://s{i}.example/a", f"Title {i}", _text(i), NOW, NOW) for i in range(3)]
            assert store.save_story_signatures(rows, seq_base=storyindex.seq_base(w, store)) == 3
        w.story_seq = 3
        with store.transaction():
            again = [ix.assign("http://s0.example/a", "Title 0", _text(0), NOW, NOW),
                     ix.assign("http://s9.example/a", "Title 9", _text(9), NOW, NOW)]
            assert store.save_story_signatures(again, seq_base=storyindex.seq_base(w, store)) == 5
        # a re-saved article takes its new number (others catch its refreshed signature up), in order
        assert [(r["article_url"], r["seq"]) for r in storyindex.rows_after(store, 2)] == [
            ("http://s2.example/a", 3), ("http://s0.example/a", 4), ("http://s9.example/a", 5)]
        assert storyindex.seq_base(None, store) == 5 == storyindex.max_seq(store)
        assert store.save_story_signatures([], seq_base=5) == 5 and store.save_story_signatures(again) is None
    finally:
        store.close()


def test_a_nested_unit_in_a_flat_one_joins_it_and_an_error_rolls_all_back(state_target):
    store = state_target.open()
    try:
        with pytest.raises(RuntimeError), store.transaction(flat=True):
            store.set_meta("outer", 1)
            with store.transaction():
                store.set_meta("inner", 2)
            raise RuntimeError("boom")
        assert store.get_meta("outer") is None and store.get_meta("inner") is None
    finally:
        store.close()


def test_begin_stories_is_refused_while_another_worker_holds_the_story_lock(pg_url):
    from monitor.store.postgres import PgStore
    a, b = PgStore(pg_url), PgStore(pg_url, migrate=False)
    wa, wb = Worker("a"), Worker("b")
    ia, ib = StoryIndex(), StoryIndex()
    try:
        with a.transaction(flat=True):
            assert wa.begin_stories(a, ia)
            first = ia.assign("http://one.example/a", "Quay to close", TEXT, NOW, NOW)
            a.save_story_signatures([first], seq_base=storyindex.seq_base(wa, a))
            with b.transaction():
                assert not wb.begin_stories(b, ib) and len(ib) == 0     # busy: nothing read, nothing taken
        with b.transaction():
            assert wb.begin_stories(b, ib) and "http://one.example/a" in ib and wb.story_seq == 1
            copy = ib.assign("http://two.example/b", "Quay to close", TEXT + " Updated.", NOW, NOW)
        assert copy.story_key == "http://one.example/a" and copy.level == "copy"
    finally:
        a.close()
        b.close()


def test_two_workers_find_the_same_story_through_the_indexed_band_keys(pg_url):
    from monitor.store.postgres import PgStore
    a, b = PgStore(pg_url), PgStore(pg_url, migrate=False)
    wa, wb = Worker("a"), Worker("b")
    ia, ib = StoryIndex(), StoryIndex()
    one, two = "http://one.example/a", "http://two.example/b"
    try:
        with a.transaction(flat=True):
            assert wa.begin_stories(a, ia)
            first = ia.assign(one, "Quay to close", TEXT, NOW, NOW)
            a.save_story_signatures([first], seq_base=storyindex.seq_base(wa, a))
        # worker b's cache knows nothing yet: the database's band index proposes a's article
        probe = StoryIndex().assign(two, "Quay to close", TEXT + " Updated.", NOW, NOW)
        found = storyindex.copy_candidates(b, probe.bands)
        assert [(c["article_url"], c["story_url"]) for c in found] == [(one, one)]
        assert set(found[0]["bands"]) & set(probe.bands)
        assert storyindex.copy_candidates(b, StoryIndex().assign("http://three.example/c", "Other", _text(3),
                                                                  NOW, NOW).bands) == []
        # and b's cache, caught up under the story lock, decides the same story
        with b.transaction(flat=True):
            assert wb.begin_stories(b, ib)
            copy = ib.assign(two, "Quay to close", TEXT + " Updated.", NOW, NOW)
            b.save_story_signatures([copy], seq_base=storyindex.seq_base(wb, b))
        assert copy.story_key == one and copy.bands == probe.bands
        assert sorted(b.db.execute("SELECT article_url, story_url, array_length(bands, 1) FROM story_signatures "
                                   "ORDER BY article_url").fetchall()) == [(one, one, 32), (two, one, 32)]
        with b.transaction():          # the lookup is an index scan of the band keys, not a read of the table
            b.db.execute("SET LOCAL enable_seqscan = off")
            plan = " ".join(r[0] for r in b.db.execute(
                "EXPLAIN SELECT * FROM story_signatures WHERE bands && ?::bigint[]", [list(probe.bands)]).fetchall())
        assert "story_signatures_bands" in plan
    finally:
        a.close()
        b.close()


def test_band_keys_are_postgresql_only(tmp_path):
    from monitor.store.sqlite import Store
    store = Store(tmp_path / "m.db")
    try:
        with pytest.raises(ValueError, match="PostgreSQL only"):
            storyindex.copy_candidates(store, [1, 2])
    finally:
        store.close()


def test_a_feeds_save_is_eight_statements_on_postgresql_whatever_its_size(pg_url, monkeypatch):
    """The unit a cold poll commits: the lock with the catch-up, one batch per kind of row, the
    feed row; not one statement per article (it was 35 per poll with 5 articles)."""
    from monitor.config.settings import FeedSettings
    from monitor.models import Article, Entry, Match
    from monitor.store.pg_base import PgBase
    from monitor.store.postgres import PgStore
    store = PgStore(pg_url)
    sent: list[str] = []
    for name in ("_run", "_run_then", "_many", "_many_returning_later"):
        real = getattr(PgBase, name)
        monkeypatch.setattr(PgBase, name, lambda self, sql, *rest, _real=real, _name=name:
                            sent.append(f"{_name} {sql[:40]}") or _real(self, sql, *rest))
    try:
        store.sync_feeds([FeedSettings(url="https://f/1")])
        w, ix = Worker("a"), StoryIndex()
        for n in (5, 20):
            sent.clear()
            arts = [Article(url=f"https://a/{n}-{i}", feed_url="https://f/1", guid=f"g{n}-{i}", title=f"T{i}",
                            text=_text(n * 100 + i)) for i in range(n)]
            entries = [Entry("https://f/1", a.guid, a.url) for a in arts]
            with store.transaction(flat=True):
                assert w.begin_stories(store, ix)
                stories = [ix.assign(a.url, a.title, a.text, NOW, NOW) for a in arts]
                store.save_feed_items("https://f/1", entries, [(a, [Match("r")], ["desk"]) for a in arts],
                                      {"etag": f"e{n}"})
                last = store.save_story_signatures(stories, seq_base=storyindex.seq_base(w, store))
            w.story_seq = last
            assert len(sent) == 8, sent
        assert store.db.execute("SELECT count(*), count(article_id) FROM entries").fetchone() == (25, 25)
        assert store.db.execute("SELECT count(*) FROM outbox").fetchone() == (25,)
        assert store.db.execute("SELECT max(seq), count(bands) FROM story_signatures").fetchone() == (25, 25)
        # as a poll saves: the lock's query with the articles' new ids taken (one sync), then, once the
        # stories are decided, the articles' insert with their story columns (one statement), the entries
        # linked, no UPDATE of the rows after (no feed row here either)
        sent.clear()
        arts = [Article(url=f"https://a/q-{i}", feed_url="https://f/1", guid=f"gq-{i}", title=f"T{i}",
                        text=_text(9000 + i)) for i in range(3)] + [
            Article(url="https://a/5-0", feed_url="https://f/1", guid="g-known", title="T", text=_text(1))]
        entries = [Entry("https://f/1", a.guid, a.url) for a in arts]
        queued: list = []
        with store.transaction(flat=True):
            assert w.begin_stories(store, ix, then=lambda guard: queued.append(store.queue_articles(arts, guard)))
            assert store._pipe is None          # the lock's query synced the pipeline
            stories = [ix.assign(a.url, a.title, a.text, NOW, NOW) for a in arts[:3]]
            by_key = {s.article_key: s for s in stories}
            got = queued[0](by_key)
            store.save_feed_items("https://f/1", entries, [(a, [Match("r")], ["desk"]) for a in arts], {}, ids=got)
            written = store.story_rows(arts, got, by_key)
            store.save_story_signatures(stories, seq_base=storyindex.seq_base(w, store), rows_written=written)
        assert len(sent) == 7 and "pg_try_ad" in sent[0] and sent[1].startswith("_many_returning_later SELECT nextval") \
            and sent[2].startswith("_many_returning_later INSERT") and not any("UPDATE" in s for s in sent), sent
        assert got[3] is None and all(got[:3])          # the stored URL's insert was ignored
        assert written == {a.url for a in arts[:3]}
        rows = store.db.execute("SELECT url, story_id, id, story_level, content_hash FROM articles "
                                "WHERE url LIKE 'https://a/q-%' ORDER BY id").fetchall()
        assert [(r[0], r[1] == r[2], r[3], r[4]) for r in rows] == \
            [(s.article_key, True, "first", s.fingerprint) for s in stories]    # three new stories, heads
        assert store.db.execute("SELECT count(*), count(article_id) FROM entries").fetchone() == (29, 28)
        assert store.db.execute("SELECT count(*) FROM outbox").fetchone() == (28,)
        with pytest.raises(ValueError, match="ids for"):
            with store.transaction():
                store.save_feed_items("https://f/1", [], [(arts[0], [], [])], {}, ids=[])
    finally:
        store.close()


def test_a_worker_that_finds_the_story_lock_busy_inserts_no_article(pg_url):
    """The articles' insert (with their story columns, or plain) is guarded by the story lock: a worker
    that finds it held by another inserts nothing (no rows written and rolled back at every retry)."""
    from monitor.models import Article
    from monitor.store.postgres import PgStore
    holder, other = PgStore(pg_url), PgStore(pg_url)
    arts = [Article(url=f"https://a/busy-{i}", feed_url="https://f/1", guid=f"gb-{i}", title="T", text=_text(i))
            for i in range(3)]
    ix = StoryIndex()
    stories = {s.article_key: s for s in (ix.assign(a.url, a.title, a.text, NOW, NOW) for a in arts)}
    try:
        with holder.transaction(flat=True):
            assert Worker("h").begin_stories(holder, StoryIndex())
            queued: list = []
            with pytest.raises(RuntimeError):
                with other.transaction(flat=True):
                    assert not Worker("o").begin_stories(
                        other, StoryIndex(), then=lambda guard: queued.append(other.queue_articles(arts, guard)))
                    assert queued[0]() == [None, None, None]        # the guard held nothing back in: no row
                    assert queued[0](stories) == [None, None, None]     # ... nor with the story columns
                    raise RuntimeError("roll back, as the poll does")
        queued.clear()
        with other.transaction(flat=True):         # the lock free again: the same call inserts them
            assert Worker("o").begin_stories(
                other, StoryIndex(), then=lambda guard: queued.append(other.queue_articles(arts, guard)))
            assert all(queued[0](stories))
        assert other.db.execute("SELECT count(*), count(story_id) FROM articles WHERE url LIKE 'https://a/busy-%'"
                                ).fetchone() == (3, 3)
    finally:
        holder.close()
        other.close()
