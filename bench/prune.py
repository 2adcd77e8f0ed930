"""Bench: retention's cost in entries per feed, and how long it holds the write lock at once.

Builds a database with one feed of N entries past retention (and one current entry),
then times `Store.prune` and, on a copy, the single correlated DELETE the store used
before (quadratic in entries per feed: for each entry, the feed's max(last_seen) was
recomputed). Also measures the longest single write transaction of the new prune by
timing a writer on a second connection that commits every few milliseconds meanwhile
(its worst wait is what a feed poll would see).

    .venv/bin/python bench/prune.py                    # 20,000 and 80,000 entries
    .venv/bin/python bench/prune.py --sizes 5000 20000 --old
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.store.sqlite import Store, iso, now_utc  # noqa: E402

FEED = "https://old.example/feed"
OLD_DELETE = ("DELETE FROM entries WHERE last_seen < ? AND last_seen < "
              "(SELECT max(e.last_seen) FROM entries e WHERE e.feed_url = entries.feed_url)")


def build(path: Path, n: int) -> None:
    store = Store(path)
    old, now = iso(now_utc() - timedelta(days=200)), iso(now_utc())
    store.db.execute("INSERT INTO feeds (url, added) VALUES (?, ?)", [FEED, now])
    with store.transaction():
        store.db.conn.executemany("INSERT INTO entries (feed_url, guid, url, first_seen, last_seen) VALUES (?,?,?,?,?)",
                                  [(FEED, f"g{i}", f"https://old.example/{i}", old, old) for i in range(n)])
        store.db.execute("INSERT INTO entries (feed_url, guid, url, first_seen, last_seen) VALUES (?,?,?,?,?)",
                         [FEED, "current", "https://old.example/c", now, now])
    store.close()


def worst_writer_wait(path: Path, stop: threading.Event, out: list[float]) -> None:
    store = Store(path, migrate=False)
    worst = 0.0
    i = 0
    while not stop.is_set():
        started = time.perf_counter()
        with store.transaction():
            store.set_meta("bench", i)
        worst = max(worst, time.perf_counter() - started)
        i += 1
        time.sleep(0.005)
    store.close()
    out.append(worst)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[20_000, 80_000])
    ap.add_argument("--old", action="store_true", help="also time the old quadratic DELETE (slow at 80,000)")
    args = ap.parse_args()
    print(f"{'entries':>8} {'prune s':>8} {'worst write wait ms':>20} {'old DELETE s':>13}")
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "m.db"
            build(db, n)
            shutil.copy(db, Path(tmp) / "old.db")
            store = Store(db)
            stop, waits = threading.Event(), []
            writer = threading.Thread(target=worst_writer_wait, args=(db, stop, waits))
            writer.start()
            started = time.perf_counter()
            store.prune(90)
            took = time.perf_counter() - started
            stop.set()
            writer.join()
            left = store.db.execute("SELECT count(*) FROM entries").fetchone()[0]
            store.close()
            assert left == 1, left
            old = ""
            if args.old:
                s = Store(Path(tmp) / "old.db")
                started = time.perf_counter()
                s.db.execute(OLD_DELETE, [iso(now_utc() - timedelta(days=90))])
                old = f"{time.perf_counter() - started:.2f}"
                s.close()
            print(f"{n:>8} {took:>8.2f} {waits[0] * 1000:>20.1f} {old:>13}")


if __name__ == "__main__":
    main()
