"""Feed parsing CPU per entry: parse_feed (the fast path, feedparser where it is unsure) against feedparser alone.

Usage: .venv/bin/python bench/parse.py [--feeds 150] [--rounds 3]

Two sets, each parsed by `feeds.parse_feed` and by `feeds._parse_feedparser` (the path
every RSS/Atom document took before ingest/fastfeed.py), alternating, in this one
process: the feed farm's RSS and Atom documents (its JSON feeds are left out: they
never met feedparser) with 30 items each, and every real corpus feed (shared/corpora/
feeds/real and edge/real-world, RSS/Atom/RDF). Prints CPU seconds (process_time) per
entry for each path, the ratio, and how many documents took the fast path. The whole
command's figures are bench/poll.py's.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared"

from monitor.ingest import feeds  # noqa: E402
from monitor.ingest.fastfeed import Unsure, parse_fast  # noqa: E402


def farm_docs(n: int) -> list[tuple[bytes, str]]:
    spec = importlib.util.spec_from_file_location("feedfarm_bench", SHARED / "tools" / "feedfarm.py")
    ff = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = ff
    spec.loader.exec_module(ff)
    farm = ff.Farm(n, 30, 1, 0.3, {}, 1_790_000_000.0)
    farm.publish_round()
    ctype = {"rss": "application/rss+xml", "atom": "application/atom+xml"}
    return [(farm.render_feed(o), ctype[o.fmt]) for o in farm.outlets if o.fmt in ctype]


def real_docs() -> list[tuple[bytes, str]]:
    out = []
    for d in ("real", "edge/real-world"):
        for p in sorted((SHARED / "corpora" / "feeds" / d).iterdir()):
            if p.suffix in (".xml", ".rss", ".atom"):
                out.append((p.read_bytes(), "application/xml"))
    return out


def run(docs: list[tuple[bytes, str]], rounds: int) -> dict:
    url = "https://bench.example/feed"
    cost = {"fast": 0.0, "feedparser": 0.0}
    entries = 0
    for _ in range(rounds):
        for name, fn in (("fast", feeds.parse_feed), ("feedparser", feeds._parse_feedparser)):
            t = time.process_time()
            n = 0
            for body, ct in docs:
                try:
                    n += len(fn(body, url, ct, 200).entries)
                except Exception:
                    pass
            cost[name] += time.process_time() - t
            entries = n
    taken = 0
    for body, ct in docs:
        try:
            parse_fast(body.lstrip(b"\r\n\t "), ct, 200)
            taken += 1
        except Unsure:
            pass
    per = {k: v / rounds / max(entries, 1) * 1000 for k, v in cost.items()}
    return {"docs": len(docs), "entries": entries, "fast_docs": taken, **{f"{k}_ms_per_entry": v for k, v in per.items()},
            "speedup": per["feedparser"] / per["fast"] if per["fast"] else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=150, help="farm feeds (two in three are RSS/Atom)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    for name, docs in (("farm", farm_docs(args.feeds)), ("real corpus", real_docs())):
        r = run(docs, args.rounds)
        print(f"{name:12} {r['docs']:4} docs ({r['fast_docs']} fast) {r['entries']:6} entries  "
              f"parse_feed {r['fast_ms_per_entry']:.3f} ms/entry  feedparser {r['feedparser_ms_per_entry']:.3f} ms/entry  "
              f"{r['speedup']:.1f}x")


if __name__ == "__main__":
    main()
