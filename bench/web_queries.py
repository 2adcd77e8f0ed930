"""Bench: CPU time of the web pages' query functions on a filled store, for paired before/after runs.

Load-insensitive companion of bench/web.py: `time.process_time` of each page's query
function (monitor.web.queries) in one process on a SQLite store that bench/web.py filled
(`--keep`), mean of 30 calls after a warm-up. `--root` imports monitor from another checkout
(a worktree of an older commit), so two runs on the same store compare the code alone.

    .venv/bin/python bench/web_queries.py /tmp/web-bench/monitor.db
    .venv/bin/python bench/web_queries.py /tmp/web-bench/monitor.db --root /tmp/web-before
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("db", type=Path)
    p.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = p.parse_args()
    sys.path.insert(0, str(args.root))
    from monitor.web import queries
    conn = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True, isolation_level=None)
    conn.row_factory = sqlite3.Row

    def cpu(fn, n: int = 30) -> float:
        fn()
        t = time.process_time()
        for _ in range(n):
            fn()
        return (time.process_time() - t) / n * 1000

    cases = {
        "/?days=30": (queries.MatchFilter(since=queries.days_ago(30)), 0),
        "/?days=all": (queries.MatchFilter(), 0),
        "/?rule=kallas&days=30": (queries.MatchFilter(rule="kallas", since=queries.days_ago(30)), 0),
        "/?tag=nordic&days=30": (queries.MatchFilter(tag="nordic", since=queries.days_ago(30)), 0),
        "/?lang=de&days=30": (queries.MatchFilter(language="de", since=queries.days_ago(30)), 0),
        "/?lang=xx&days=all (no such language)": (queries.MatchFilter(language="xx"), 0),
        "/?page=20&days=90": (queries.MatchFilter(since=queries.days_ago(90)), 950),
    }
    print(f"monitor from {args.root}; ms CPU per call")
    for name, (f, offset) in cases.items():
        print(f"  {name:40s} match_stories {cpu(lambda f=f, offset=offset: queries.match_stories(conn, f, 50, offset)):6.2f}")
    print(f"  {'/feeds':40s} feeds         {cpu(lambda: queries.feeds(conn)):6.2f}")
    print(f"  {'/rules':40s} rule_stats    {cpu(lambda: queries.rule_stats(conn)):6.2f}")


if __name__ == "__main__":
    main()
