"""`monitor match --json` against the in-process driver, pass by pass, for one or more trees (issue 21).

    flock /work/notes/heavy.lock taskset -c 0 .venv/bin/python bench/match_cli_passes.py \
        --code /path/to/main --code . [--size 10000] [--passes 4] [--rounds 3]

The watch-list rules and the 581 articles of bench/match_names.py (the 181 benchmark texts
and the feed farm's 400 pages, each a .json file), generated once. Then, for each round and
each tree in turn (PYTHONPATH=TREE, this interpreter), two processes:

- the driver: the rule set loaded by a RuleWatcher, then --passes rounds of two loops, the
  driver's (`RuleSet.match` and the JSON line over Article objects held in memory, as
  bench/match_names_driver.py) and the command's (`read_document` of each file, the match,
  the JSON line written to /dev/null), articles per CPU-second of each pass;
- `monitor match --json` given every file --passes + 1 times, writing into a pipe that this
  process reads (on the same core under taskset): articles per second of its own CPU time
  (/proc/PID/schedstat, nanoseconds) over each pass after the first, marked as the last line
  of each pass arrives.

Prints the medians per tree and round, and checks that every tree wrote the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from match import corpus  # noqa: E402
from match_names import cpu_of, farm_articles, names  # noqa: E402
from watchlist import write_rules  # noqa: E402

DRIVER = r'''
import glob, json, os, sys, time
from pathlib import Path
from monitor.cli.rules import _match_json, read_document
from monitor.match import RuleWatcher
from monitor.models import Article
rules, docs_json, files, passes = sys.argv[1:5]
docs = [Article(url=d["url"], feed_url="bench", guid=d["url"], title=d["title"], text=d["text"])
        for d in json.loads(Path(docs_json).read_text(encoding="utf-8"))]
paths = sorted(glob.glob(os.path.join(files, "*.json")))
rs = RuleWatcher(Path(rules)).current
clock = time.process_time
sink = open(os.devnull, "w")
drv, cmd = [], []
for _ in range(int(passes)):
    c = clock()
    for d in docs:
        t = clock()
        _match_json(d.url, rs.match(d))
        _ = clock() - t                      # the driver's own latency clock, as it runs
    drv.append(len(docs) / (clock() - c))
    c = clock()
    for p in paths:
        sink.write(_match_json(p, rs.match(read_document(p))) + "\n")
    cmd.append(len(paths) / (clock() - c))
print(json.dumps([drv, cmd]))
'''


def one(tree: Path, rules: Path, docs_json: Path, paths: list[str], passes: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, "-c", DRIVER, str(rules), str(docs_json), str(Path(paths[0]).parent),
                          str(passes)], env=env, cwd=tree, capture_output=True, text=True, check=True).stdout
    drv, cmd = json.loads(out)
    n = len(paths)
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "match", "--rules", str(rules), "--json",
                             *(paths * (passes + 1))], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=env, cwd=tree)
    assert proc.stdout is not None
    marks, k, digest = [], 0, hashlib.sha256()
    for line in proc.stdout:
        k += 1
        if k <= n:
            digest.update(line)
        if k % n == 0:
            marks.append(cpu_of(proc.pid))
    proc.wait()
    if proc.returncode or k != n * (passes + 1):
        raise SystemExit(f"{tree}: monitor match failed ({proc.returncode}, {k} lines)")
    cli = [n / (b - a) for a, b in zip(marks, marks[1:])]
    return {"driver": drv, "command_loop": cmd, "cli": cli, "digest": digest.hexdigest()[:16]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--code", type=Path, action="append", required=True, help="a tree (repeat)")
    ap.add_argument("--size", type=int, default=10_000)
    ap.add_argument("--passes", type=int, default=4,
                    help="passes of each loop (at least 2: the first is the warm-up the medians leave out)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--farm-feeds", type=int, default=40)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "monitor-bench-names")
    args = ap.parse_args()
    if args.passes < 2:
        ap.error("--passes must be at least 2: the first pass is left out of the medians")
    data = names(args.cache)
    docs = [{"url": a.url, "title": a.title, "text": a.text} for a in corpus()] + farm_articles(args.farm_feeds)
    with tempfile.TemporaryDirectory(prefix="match-cli-") as tmp_s:
        tmp = Path(tmp_s)
        write_rules(data, args.size, tmp / "rules")
        (tmp / "docs").mkdir()
        paths = []
        for i, d in enumerate(docs):
            p = tmp / "docs" / f"a{i:05d}.json"
            p.write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8")
            paths.append(str(p))
        (tmp / "docs.json").write_text(json.dumps(docs, ensure_ascii=False), encoding="utf-8")
        print(f"{args.size:,} rules, {len(paths)} articles, {args.passes} passes, cores "
              f"{sorted(os.sched_getaffinity(0))}", flush=True)
        rows: dict[str, list[dict]] = {str(t): [] for t in args.code}
        for r in range(args.rounds):
            for tree in args.code:
                res = one(tree.resolve(), tmp / "rules", tmp / "docs.json", paths, args.passes)
                rows[str(tree)].append(res)
                print(json.dumps({"round": r + 1, "tree": str(tree), **{k: [round(x) for x in v] if
                                  isinstance(v, list) else v for k, v in res.items()}}), flush=True)
    digests = {res["digest"] for runs in rows.values() for res in runs}
    print(f"\nsame output bytes in every run: {len(digests) == 1} ({', '.join(sorted(digests))})")
    print("| tree | round | driver art/CPU-s (median of passes) | command loop in-process | "
          "`monitor match --json` into a pipe |")
    print("|---|---|---|---|---|")
    for tree, runs in rows.items():
        for i, res in enumerate(runs):
            print(f"| {tree} | {i + 1} | {statistics.median(res['driver'][1:]):,.0f} | "
                  f"{statistics.median(res['command_loop'][1:]):,.0f} | {statistics.median(res['cli']):,.0f} |")


if __name__ == "__main__":
    main()
