"""What the articles' second write costs one PostgreSQL save, and what writing each row once saves:
a feed's unit of work as a worker's poll runs it (the story lock with its catch-up, the articles'
insert through `queue_articles`, entries, a match and an outbox row each, the feed row, the story
signatures, COMMIT) for 5 new articles, timed from BEGIN to COMMIT (the stories decided before). Two ways alternate, in one
throwaway schema of the local server (MONITOR_TEST_PG, as the tests): `once`, the ids asked with
the batch's stories (`ids(stories)`: the rows carry their story columns where the code does that,
PostgreSQL since this round) and `save_story_signatures` told which rows have them; `twice`, the
ids asked without stories (a plain insert), every row's story columns then set by
`save_story_signatures`' UPDATE (the second write). With `--code DIR` the monitor of that checkout
runs (main's before this round queued its plain insert with the lock's round trip and ignored the
stories: its `once` is its `twice`). The first 20 saves of each way are left out of the figures.

    .venv/bin/python bench/pg_story_update.py --saves 400 [--code /path/to/checkout]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

WORDS = [f"w{i}" for i in range(3000)]


def _text(i: int) -> str:
    r = random.Random(i)
    return " ".join(r.choice(WORDS) for _ in range(150))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--saves", type=int, default=400, help="saves in all, half of them each way")
    ap.add_argument("--items", type=int, default=5, help="new articles per save")
    ap.add_argument("--code", type=Path, default=Path(__file__).resolve().parents[1],
                    help="the checkout whose monitor runs (default: this one)")
    args = ap.parse_args()
    sys.path.insert(0, str(args.code.resolve()))
    from monitor.config.settings import FeedSettings
    from monitor.daemon.workers import Worker
    from monitor.models import Article, Entry, Match
    from monitor.store import storyindex
    from monitor.store.postgres import PgStore
    from monitor.stories.index import StoryIndex
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.pgstate import PgSchema

    now = datetime.now(UTC)
    schema = PgSchema()
    store = PgStore(schema.url)
    times: dict[bool, list[float]] = {True: [], False: []}
    try:
        store.sync_feeds([FeedSettings(url="https://f/1")])
        worker, index = Worker("bench"), StoryIndex()
        n = 0
        for save in range(args.saves):
            once = save % 2 == 0
            arts = [Article(url=f"https://a/{n + i}", feed_url="https://f/1", guid=f"g{n + i}", title=f"T{i}",
                            text=_text(n + i)) for i in range(args.items)]
            n += args.items
            entries = [Entry("https://f/1", a.guid, a.url) for a in arts]
            queued: list = []
            # decided before the clock starts (a poll decides after the lock): the signatures' CPU is not timed
            assigned = [index.assign(a.url, a.title, a.text, now, now) for a in arts]
            started = time.perf_counter()
            with store.transaction(flat=True):
                assert worker.begin_stories(store, index, then=lambda guard, q=queued, b=arts: q.append(
                    store.queue_articles(b, guard)))
                stories = {s.article_key: s for s in assigned} if once else None
                ids = queued[0](stories)
                store.save_feed_items("https://f/1", entries, [(a, [Match("r")], ["desk"]) for a in arts],
                                      {"etag": f"e{save}"}, ids=ids)
                last = store.save_story_signatures(assigned, seq_base=storyindex.seq_base(worker, store),
                                                   rows_written=store.story_rows(arts, ids, stories))
            times[once].append(time.perf_counter() - started)
            worker.story_seq = last
        got = store.db.execute("SELECT count(*), count(story_id) FROM articles").fetchone()
        assert tuple(got) == (n, n), got
    finally:
        store.close()
        schema.drop()
    print(f"code: {args.code}")
    for once, label in ((True, "once (ids(stories))"), (False, "twice (plain + UPDATE)")):
        kept = times[once][20:]
        print(f"{label:24} median {statistics.median(kept) * 1000:.2f} ms, mean {statistics.mean(kept) * 1000:.2f} ms "
              f"a unit of {args.items} articles ({len(kept)} units)")


if __name__ == "__main__":
    main()
