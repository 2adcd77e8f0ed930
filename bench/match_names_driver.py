"""One size of the watch-list benchmark, in its own process (run by bench/match_names.py).

    python bench/match_names_driver.py --rules DIR --docs DOCS.json --edit FILE [--passes 3]
    python bench/match_names_driver.py --worker RULESET.pickle

Loads the rule folder with a RuleWatcher (as the daemon does) and prints one JSON line:
compile time (wall and CPU), the process's memory after loading (RSS and PSS from
/proc/self/smaps_rollup), each article's latency (CPU time) for `RuleSet.match` plus the JSON line
`monitor match --json` prints for it (best pass's articles/s by wall and CPU time, p50/p99 over all passes),
the rules fired, the reload of one edited file (`refresh()` after FILE gained an OR
term), and the rule set as the daemon ships it to its workers: pickled size, and a
fresh process (`--worker`) that unpickles it and reports its own memory.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def memory() -> dict:
    """RSS and PSS of this process in MB."""
    out = {}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        key = line.split(":")[0]
        if key in ("Rss", "Pss"):
            out[key.lower() + "_mb"] = int(line.split()[1]) / 1024
    return out


def worker(path: str) -> None:
    import monitor.match  # noqa: F401  (what a worker has imported before its first batch)
    before = memory()
    t0 = time.perf_counter()
    with open(path, "rb") as f:
        rs = pickle.load(f)
    print(json.dumps({"unpickle_s": time.perf_counter() - t0, "rules": len(rs.rules), **memory(),
                      "before_rss_mb": before["rss_mb"]}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rules", type=Path)
    ap.add_argument("--docs", type=Path)
    ap.add_argument("--edit", type=Path)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--worker")
    args = ap.parse_args()
    if args.worker:
        worker(args.worker)
        return
    from monitor.cli.rules import _match_json
    from monitor.match import RuleWatcher
    from monitor.models import Article

    docs = [Article(url=d["url"], feed_url="bench", guid=d["url"], title=d["title"], text=d["text"])
            for d in json.loads(args.docs.read_text(encoding="utf-8"))]
    base = memory()
    w0, c0 = time.perf_counter(), time.process_time()
    watcher = RuleWatcher(args.rules)
    compile_wall, compile_cpu = time.perf_counter() - w0, time.process_time() - c0
    rs = watcher.current
    assert rs is not None, watcher.errors[:5]
    loaded = memory()
    lat: list[float] = []          # CPU seconds per article: steadier than wall time on a shared machine
    best = best_cpu = 0.0
    fired: list[str] = []
    clock = time.process_time
    for i in range(args.passes):
        start, cpu = time.perf_counter(), clock()
        for d in docs:
            t = clock()
            line = _match_json(d.url, rs.match(d))
            lat.append(clock() - t)
            if i == 0:
                fired.append(line)
        best = max(best, len(docs) / (time.perf_counter() - start))
        best_cpu = max(best_cpu, len(docs) / (clock() - cpu))
    lat.sort()
    rules_fired = [json.loads(x)["rules"] for x in fired]
    digest = hashlib.sha256(json.dumps(rules_fired).encode()).hexdigest()[:16]

    text = args.edit.read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    doc["rules"][0]["query"] = f"zzyzx OR ({doc['rules'][0]['query']})"     # one rule of the file edited
    args.edit.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    st = args.edit.stat()
    os.utime(args.edit, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    w0, c0 = time.perf_counter(), time.process_time()
    swapped = watcher.refresh()
    reload_wall, reload_cpu = time.perf_counter() - w0, time.process_time() - c0
    assert swapped and not watcher.errors, watcher.errors[:5]
    args.edit.write_text(text, encoding="utf-8")       # the next size starts from the same files

    with tempfile.TemporaryDirectory() as tmp:
        pk = Path(tmp) / "rules.pickle"
        t0 = time.perf_counter()
        pk.write_bytes(pickle.dumps(watcher.current, protocol=pickle.HIGHEST_PROTOCOL))
        pickle_s = time.perf_counter() - t0
        out = subprocess.run([sys.executable, __file__, "--worker", str(pk)], capture_output=True, text=True,
                             check=True)
        work = json.loads(out.stdout)
        pickled_mb = pk.stat().st_size / 1e6
    print(json.dumps({
        "rules": len(rs.rules), "compile_wall": compile_wall, "compile_cpu": compile_cpu,
        "base": base, "loaded": loaded, "articles": len(docs), "rate": best, "rate_cpu": best_cpu,
        "p50_ms": lat[len(lat) // 2] * 1e3, "p99_ms": lat[int(len(lat) * 0.99)] * 1e3, "max_ms": lat[-1] * 1e3,
        "fired_per_article": sum(map(len, rules_fired)) / len(docs), "digest": digest,
        "reload_wall": reload_wall, "reload_cpu": reload_cpu, "reload_reads": watcher.cache.reads,
        "reload_built": watcher.cache.built, "pickle_s": pickle_s, "pickled_mb": pickled_mb, "worker": work,
    }))


if __name__ == "__main__":
    main()
