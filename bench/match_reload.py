"""Benchmark: rule reload after editing one file, full load vs the incremental reload.

    .venv/bin/python bench/match_reload.py [--sizes 1000,10000,100000] [--per-file 100]

Writes the bench's generated rules (bench/match.py) into files of --per-file rules each,
plus one entity file used by a rule in every file, loads them with a RuleWatcher, then
edits one rule file and times `refresh()` (the incremental reload: that file re-read and
its rules rebuilt, the automaton compiled again over the whole set) beside a fresh
`load_rules` of the same folder. Prints CPU seconds of this process.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from match import corpus, generate_rules  # noqa: E402

from monitor.match import RuleWatcher, load_rules  # noqa: E402


def _cpu(fn, *args):
    start = time.process_time()
    out = fn(*args)
    return time.process_time() - start, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--per-file", type=int, default=100)
    args = ap.parse_args()
    docs = corpus()
    print(f"{'rules':>7} {'files':>6} {'first load s':>13} {'full reload s':>14} {'edit one file, refresh s':>25} "
          f"{'files read':>11} {'rules built':>12}")
    for n in (int(x) for x in args.sizes.split(",")):
        rules = generate_rules(docs, n)
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "entities.yaml").write_text(yaml.safe_dump({"entities": {"watch": ['"Kaja Kallas"']}}))
            for f in range(0, n, args.per_file):
                chunk = rules[f:f + args.per_file]
                chunk[0] = dict(chunk[0], query=f"({chunk[0]['query']}) OR @watch")
                (root / f"r{f:07d}.yaml").write_text(yaml.safe_dump({"rules": chunk}), encoding="utf-8")
            first, watcher = _cpu(RuleWatcher, root)
            full, _ = _cpu(load_rules, root)
            edited = root / f"r{(n // 2) // args.per_file * args.per_file:07d}.yaml"
            edited.write_text(edited.read_text(encoding="utf-8").replace("query: ", "query: zzyzx OR ", 1),
                              encoding="utf-8")
            st = edited.stat()
            os.utime(edited, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
            inc, swapped = _cpu(watcher.refresh)
            assert swapped and not watcher.errors
            print(f"{n:>7} {len(list(root.glob('*.yaml'))):>6} {first:>13.2f} {full:>14.2f} {inc:>25.2f} "
                  f"{watcher.cache.reads:>11} {watcher.cache.built:>12}")


if __name__ == "__main__":
    main()
