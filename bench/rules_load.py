"""Bench: loading watch lists of real names, old code beside new, with a digest of the result (issue 21).

    taskset -c 0 .venv/bin/python bench/rules_load.py [--sizes 10000,100000] [--rounds 2]
        [--code DIR ...] [--watcher] [--cache /tmp/monitor-bench-names]

Writes bench/match_names.py's watch-list rules (bench/watchlist.py, seed 21, names from the
registry packages of bench/names_source.py, cached under --cache) for each size, then loads
them with `load_rules` (or a `RuleWatcher`, the daemon's path, with --watcher) in a fresh
process per load and per code tree (--code: checkouts to compare, default this one), the
trees alternating round by round. Prints the CPU seconds of each load and a digest of what
it built: every rule (its repr, channel places, query, exclude and ignore trees), every plan
(anchors, other clauses, rules), the anchors, the always-evaluated set, the automaton's keys
and the case forms. Trees that build the same set print the same digest.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

REPO = Path(__file__).resolve().parents[1]
CHILD = """
import hashlib, sys, time
sys.path.insert(0, sys.argv[1])
from monitor.match import RuleWatcher, load_rules
t = time.process_time()
rs = RuleWatcher(sys.argv[2]).current if sys.argv[3] == "watcher" else load_rules(sys.argv[2])
cpu = time.process_time() - t
ix = rs._compiled
h = hashlib.sha256()
for pid in sorted(ix.plans):
    rule, others, anchors, refs = ix.plans[pid]
    h.update(repr((pid, rule.id, sorted(anchors) if anchors else None, [sorted(c) for c in others], refs)).encode())
h.update(repr(sorted((k, sorted(v)) for k, v in ix.by_key.items())).encode())
h.update(repr((sorted(ix.always), sorted(ix.keys.items()))).encode())
h.update(repr(sorted((k, [(a, repr(b)) for a, b in v]) for k, v in ix.case.items())).encode())
for r in rs.rules:
    h.update(repr((r, r.channel_where, r.query_ast, r.exclude_ast, r.ignore_ast)).encode())
print(f"{cpu:.2f} {h.hexdigest()[:16]}")
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--code", action="append", type=Path, help="a checkout to time (repeatable; default: this one)")
    ap.add_argument("--watcher", action="store_true", help="load with a RuleWatcher (the daemon's path)")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "monitor-bench-names")
    args = ap.parse_args()
    from match_names import names
    from watchlist import write_rules
    codes = args.code or [REPO]
    found = names(args.cache)
    print(f"{'rules':>7}  {'code':<28} {'CPU s per load, by round':<34} digest")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            folder = Path(tmp) / f"r{n}"
            folder.mkdir()
            write_rules(found, n, folder)
            times: dict[Path, list[str]] = {c: [] for c in codes}
            digests: dict[Path, set[str]] = {c: set() for c in codes}
            for _ in range(args.rounds):
                for code in codes:
                    out = subprocess.run([sys.executable, "-c", CHILD, str(code.resolve()), str(folder),
                                          "watcher" if args.watcher else "load"],
                                         capture_output=True, text=True, check=True).stdout.split()
                    times[code].append(out[0])
                    digests[code].add(out[1])
            for code in codes:
                print(f"{n:>7,}  {str(code)[-28:]:<28} {', '.join(times[code]):<34} {', '.join(sorted(digests[code]))}")


if __name__ == "__main__":
    main()
