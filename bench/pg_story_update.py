"""What the articles' second write costs one PostgreSQL save: a feed's save of 5 new articles
(entries, articles, a match and an outbox row each, the feed row, the story signatures) with
`save_story_signatures`' UPDATE of the articles' story columns, as a poll saves today, against
the same save without that UPDATE (`rows_written` naming every article: the rows keep no story
columns, so this is a timing of the write only, not a way to save). Saves alternate between the
two, in one throwaway schema of the local server (MONITOR_TEST_PG, as the tests); the first 20 of
each are left out of the figures.

    .venv/bin/python bench/pg_story_update.py --saves 400
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.config.settings import FeedSettings  # noqa: E402
from monitor.models import Article, Entry, Match  # noqa: E402
from monitor.store.postgres import PgStore  # noqa: E402
from monitor.stories.index import StoryIndex  # noqa: E402
from tests.pgstate import PgSchema  # noqa: E402

WORDS = [f"w{i}" for i in range(3000)]


def _text(i: int) -> str:
    r = random.Random(i)
    return " ".join(r.choice(WORDS) for _ in range(150))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--saves", type=int, default=400, help="saves in all, half of them with the UPDATE")
    ap.add_argument("--items", type=int, default=5, help="new articles per save")
    args = ap.parse_args()
    now = datetime.now(UTC)
    schema = PgSchema()
    store = PgStore(schema.url)
    times: dict[bool, list[float]] = {True: [], False: []}
    try:
        store.sync_feeds([FeedSettings(url="https://f/1")])
        index = StoryIndex()
        n = 0
        for save in range(args.saves):
            skip = save % 2 == 0
            arts = [Article(url=f"https://a/{n + i}", feed_url="https://f/1", guid=f"g{n + i}", title=f"T{i}",
                            text=_text(n + i)) for i in range(args.items)]
            n += args.items
            entries = [Entry("https://f/1", a.guid, a.url) for a in arts]
            stories = [index.assign(a.url, a.title, a.text, now, now) for a in arts]
            started = time.perf_counter()
            with store.transaction(flat=True):
                store.save_feed_items("https://f/1", entries, [(a, [Match("r")], ["desk"]) for a in arts],
                                      {"etag": f"e{save}"})
                store.save_story_signatures(stories, rows_written={a.url for a in arts} if skip else ())
            times[skip].append(time.perf_counter() - started)
    finally:
        store.close()
        schema.drop()
    for skip, label in ((False, "with the UPDATE (today)"), (True, "without it")):
        kept = times[skip][20:]
        print(f"{label:24} median {statistics.median(kept) * 1000:.2f} ms, mean {statistics.mean(kept) * 1000:.2f} ms "
              f"a save of {args.items} articles ({len(kept)} saves)")


if __name__ == "__main__":
    main()
