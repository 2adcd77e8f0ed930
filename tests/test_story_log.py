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
