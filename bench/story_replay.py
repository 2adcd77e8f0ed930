"""Bench: a cold cycle's articles replayed through the story index, CPU only.

Reads a state folder's database after a cold `monitor poll --once --all` (bench/poll.py keeps
them: `monitor-0/monitor.db` under the folder it prints), computes every article's signature
once (`text_signature`, as the workers do), then times `StoryIndex.assign` over all of them
in the order they were saved (`story_signatures.seq`), with their fetch times, as the main
process does: CPU time (`time.process_time`) of each take, the best and the median. Also
prints a digest of every assignment (to compare two versions of the code: equal digests,
equal decisions) and how many stories and levels differ from what the run itself stored.

    .venv/bin/python bench/poll.py --no-r2e          # prints "(logs in /tmp/bench-poll-XXXX)"
    .venv/bin/python bench/story_replay.py /tmp/bench-poll-XXXX/monitor-0/monitor.db --takes 3
    # another version of the code, beside it:
    git archive COMMIT monitor | tar -x -C /tmp/base
    PYTHONPATH=/tmp/base .venv/bin/python bench/story_replay.py /tmp/bench-poll-XXXX/monitor-0/monitor.db
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import sqlite3
import statistics
import time
from datetime import datetime

import monitor
from monitor.stories.index import StoryIndex, text_signature


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("db", help="a state database after a cold poll")
    ap.add_argument("--takes", type=int, default=3)
    args = ap.parse_args()
    db = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    rows = db.execute("SELECT s.article_url, a.title, a.text, a.published, s.seen, s.story_url, s.level "
                      "FROM story_signatures s JOIN articles a ON a.url = s.article_url ORDER BY s.seq").fetchall()
    items = [(url, title, text, datetime.fromisoformat(pub) if pub else None, datetime.fromisoformat(seen),
              text_signature(title, text)) for url, title, text, pub, seen, _, _ in rows]
    cpu = []
    for _ in range(args.takes):
        index = StoryIndex()
        t0 = time.process_time()
        out = [index.assign(u, t, x, p, s, signature=sig) for u, t, x, p, s, sig in items]
        cpu.append(time.process_time() - t0)
    digest = hashlib.sha256(pickle.dumps([
        (a.article_key, a.story_key, a.is_new_story, a.similar_to, a.similarity, a.fingerprint, a.signature,
         a.published, a.seen, a.level, a.shared, a.terms, a.bands) for a in out])).hexdigest()[:16]
    differ = sum(1 for a, r in zip(out, rows) if (a.story_key, a.level) != (r[5], r[6]))
    print(f"code: {monitor.__file__}")
    print(f"assign x{len(items)}: CPU s per take {', '.join(f'{c:.2f}' for c in cpu)} "
          f"(best {min(cpu):.2f}, median {statistics.median(cpu):.2f}; {min(cpu) / len(items) * 1e6:.0f} us an article)")
    print(f"assignments digest {digest}; stories or levels unlike the run's own: {differ}")


if __name__ == "__main__":
    main()
