"""Where matching time goes on the watch lists from real names (issue 21), one size per run.

    taskset -c 0 .venv/bin/python bench/match_profile.py --size 10000 [--profile match|compile] [--top 25]

Writes the watch-list rules of bench/match_names.py (bench/watchlist.py, names from
bench/names_source.py, cached under --cache) into --cache/rules-SIZE once, loads them with
a RuleWatcher, and matches the 181 benchmark texts. Prints, per article on average: the
candidates the presearcher selects (plans: rules with the same query are one), those left
after the presence check of their other clauses, the rules fired, and the CPU time of each phase of `RuleSet.match` (fields,
scan, candidate selection, evaluation); the compile time and RSS; with --profile, the
cProfile of the compile or of the match loop (sorted by own time).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from match import corpus  # noqa: E402
from match_names import names  # noqa: E402
from match_names_driver import memory  # noqa: E402
from watchlist import write_rules  # noqa: E402


def phases(rs, docs) -> dict:
    """CPU seconds per phase of RuleSet.match over docs, and candidate counts (the same steps)."""
    from monitor.match.evaluate import Context, applies, evaluate, index_fields, scan
    clock = time.process_time
    t = dict.fromkeys(("fields", "scan", "select", "evaluate"), 0.0)
    n = dict.fromkeys(("candidates", "present", "fired"), 0)
    ix = rs._compiled
    for d in docs:
        a = clock()
        fields = index_fields(d)
        b = clock()
        occ = scan(ix, fields)
        c = clock()
        cands = rs._candidates(occ) if hasattr(rs, "_candidates") else None
        if cands is None:
            cands = set(ix.always)
            for key in ix.by_key.keys() & (ix.present(occ) if hasattr(ix, "present") else occ.keys()):
                cands.update(ix.by_key[key])
        keys = ix.present(occ) if hasattr(ix, "present") else set(occ)
        present = [ref for ref in cands if not any(cl.isdisjoint(keys) for cl in ix.plans[ref][1])]
        e = clock()
        plain = Context(ix, occ, fields)
        for pid in present:
            rule, _, _, refs = ix.plans[pid]
            ok = sum(applies(rs.rules[rs._rank[r]], d) for r in refs)
            if ok and evaluate(rule, ix, occ, fields, plain) is not None:
                n["fired"] += ok
        f = clock()
        t["fields"] += b - a
        t["scan"] += c - b
        t["select"] += e - c
        t["evaluate"] += f - e
        n["candidates"] += len(cands)
        n["present"] += len(present)
    k = len(docs)
    return {"ms_per_article": {p: round(v / k * 1e3, 3) for p, v in t.items()},
            "per_article": {p: round(v / k, 2) for p, v in n.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=10000)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "monitor-bench-names")
    ap.add_argument("--profile", choices=("match", "compile"))
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--passes", type=int, default=2)
    args = ap.parse_args()
    folder = args.cache / f"rules-{args.size}"
    if not (folder / "countries.yaml").exists():
        write_rules(names(args.cache), args.size, folder)
    from monitor.match import RuleWatcher
    from monitor.models import Article
    docs = [Article(url=a.url, feed_url="bench", guid=a.url, title=a.title, text=a.text) for a in corpus()]
    prof = cProfile.Profile()
    c0 = time.process_time()
    if args.profile == "compile":
        prof.enable()
    watcher = RuleWatcher(folder)
    prof.disable()
    compile_cpu = time.process_time() - c0
    rs = watcher.current
    assert rs is not None, watcher.errors[:5]
    mem = memory()
    for d in docs:
        rs.match(d)         # warm the folding tables
    best = 0.0
    for _ in range(args.passes):
        c0 = time.process_time()
        if args.profile == "match":
            prof.enable()
        for d in docs:
            rs.match(d)
        prof.disable()
        best = max(best, len(docs) / (time.process_time() - c0))
    out = {"rules": len(rs.rules), "compile_cpu_s": round(compile_cpu, 2), "rss_mb": round(mem["rss_mb"]),
           "articles_per_cpu_s": round(best), **phases(rs, docs)}
    print(json.dumps(out))
    if args.profile:
        pstats.Stats(prof).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
