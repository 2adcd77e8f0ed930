"""One matching engine in its own process, driven by bench/match.py over stdin/stdout.

    python bench/match_engine.py --root DIR --rules FILE

Imports `monitor` from DIR (a checkout: this repository, or a git worktree of an older
commit), loads the rules, and answers one line per command:

    (start)        -> {"build": seconds, "fired": matches per article, "module": path}
    one FILE.json  -> {"seconds": CPU seconds to match that one article, "rules": [...]}
    run SECONDS    -> {"rate": articles per wall-clock second over at least SECONDS,
                       "cpu_rate": articles per second of this process's CPU time}
    quit

The corpus is the same for every engine: the 181 ground-truth texts of the extraction
benchmark in ../shared. Must not import anything from monitor before DIR is on sys.path.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True, type=Path)
    ap.add_argument("--rules", required=True, type=Path)
    ap.add_argument("--corpus", required=True, type=Path)
    args = ap.parse_args()
    root = args.root.resolve()
    sys.path.insert(0, str(root))
    import monitor
    from monitor.match import load_rules
    from monitor.models import Article

    if not Path(monitor.__file__).resolve().is_relative_to(root):
        raise SystemExit(f"monitor imported from {monitor.__file__}, not from {root}")
    data = json.loads(args.corpus.read_text(encoding="utf-8"))
    docs = []
    for key, item in sorted(data.items()):
        title, _, text = item["articleBody"].partition("\n")
        docs.append(Article(url=item.get("url", key), feed_url="bench", guid=key, title=title[:200], text=text))
    t0 = time.perf_counter()
    rs = load_rules(args.rules)
    build = time.perf_counter() - t0
    fired = sum(len(rs.match(d)) for d in docs) / len(docs)
    print(json.dumps({"build": build, "fired": fired, "module": monitor.__file__}), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        if cmd[0] == "one":       # one article from a JSON file, timed once
            obj = json.loads(Path(cmd[1]).read_text(encoding="utf-8"))
            art = Article(url="one", feed_url="bench", guid="one", title=obj["title"], text=obj["text"])
            cpu = time.process_time()
            fired = sorted(m.rule for m in rs.match(art))
            print(json.dumps({"seconds": time.process_time() - cpu, "rules": fired}), flush=True)
            continue
        seconds = float(cmd[1])
        done, start, cpu = 0, time.perf_counter(), time.process_time()
        while True:
            for d in docs:
                rs.match(d)
            done += len(docs)
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        # CPU time of this process: on a shared machine, wall time also counts the others
        print(json.dumps({"rate": done / elapsed, "cpu_rate": done / (time.process_time() - cpu)}), flush=True)


if __name__ == "__main__":
    main()
