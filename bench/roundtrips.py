"""Statements per feed poll and CPU seconds per feed, per worker, on SQLite and PostgreSQL.

Starts the feed farm (default 200 feeds x 5 items on 40 hosts, 50 ms latency), then for each
setup a fresh state and N `monitor run --worker-id wN` processes (as bench/scale.py, through
tests/workers_drill.py) with bench/countsql/ on their PYTHONPATH: its sitecustomize counts
every statement each worker sends (psycopg: one `execute` is one round trip, one
`executemany` one pipelined batch; SQLite: its trace callback). After the cold cycle (every
feed new) and after the warm one (every feed made due again: 304s) each worker is asked
(SIGUSR1) for its counts and its CPU seconds; the bench adds the CPU of each worker's
children (the parsing pool) from /proc and prints, per cycle, statements per feed, round
trips per feed, CPU ms per feed (main process, and with its pool) and the most frequent
statements.

    .venv/bin/python bench/roundtrips.py --setups pg1 --top 40
    flock /work/notes/heavy.lock .venv/bin/python bench/roundtrips.py --feeds 1000 --hosts 100 --setups sqlite,pg1,pg2,pg4
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.scale import timed_cycle  # noqa: E402
from tests.farm import Farm  # noqa: E402
from tests.workers_drill import Drill, Hook, State  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float]:
    """(parent pid, CPU seconds) of a live process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS


def children_cpu(pid: int) -> float:
    """CPU seconds of the live descendants of `pid` (the worker's parsing pool)."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)], cpu[int(entry)] = _stat(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        for child, parent in parents.items():
            if parent == p:
                total += cpu[child]
                todo.append(child)
    return total


def server_cpu(marker: str) -> float:
    """CPU seconds of the live processes whose command line holds `marker` (the PostgreSQL
    backends serving the drill's database show its name in their title)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if marker.encode() not in f.read():
                    continue
            total += _stat(int(entry))[1]
        except (OSError, IndexError, ValueError):
            continue
    return total


def snapshot(drill: Drill, files: dict[str, Path], farm: Farm) -> dict[str, dict]:
    """Each worker's counts and CPU now (main process, and its children); the database's and farm's."""
    out: dict[str, dict] = {"": {"counts": {}, "cpu": 0.0, "children_cpu": 0.0,
                                 "server": server_cpu(drill.state.db) if drill.state.kind == "postgresql" else 0.0,
                                 "farm": _stat(farm.proc.pid)[1] + children_cpu(farm.proc.pid) if farm.proc else 0.0}}
    for name, proc in drill.procs.items():
        path = files[name].with_name(files[name].name.replace("{pid}", str(proc.pid)))
        for _ in range(600):            # its first dump: the signal handler is in place
            if path.exists():
                break
            time.sleep(0.05)
        before = path.stat().st_mtime_ns
        proc.send_signal(signal.SIGUSR1)
        for _ in range(200):
            if path.exists() and path.stat().st_mtime_ns != before:
                break
            time.sleep(0.05)
        data = json.loads(path.read_text())
        data["children_cpu"] = children_cpu(proc.pid)
        out[name] = data
    return out


def report(label: str, feeds: int, before: dict[str, dict], after: dict[str, dict], top: int) -> None:
    counts: Counter[str] = Counter()
    cpu = pool = 0.0
    server = after[""]["server"] - before[""]["server"]
    farm = after[""]["farm"] - before[""]["farm"]
    for name, a in after.items():
        if not name:
            continue
        b = before.get(name, {"counts": {}, "cpu": 0.0, "children_cpu": 0.0})
        counts.update({k: v - b["counts"].get(k, 0) for k, v in a["counts"].items()})
        cpu += a["cpu"] - b["cpu"]
        pool += a["children_cpu"] - b["children_cpu"]
    counts = Counter({k: v for k, v in counts.items() if v > 0})
    total = sum(counts.values())
    print(f"{label}: {total / feeds:.1f} statements per feed ({total} for {feeds} feeds); "
          f"CPU per feed {cpu / feeds * 1000:.1f} ms main, {(cpu + pool) / feeds * 1000:.1f} ms with the pool "
          f"({cpu:.1f} s + {pool:.1f} s over {len(after) - 1} worker(s)); PostgreSQL backends "
          f"{server / feeds * 1000:.1f} ms, farm {farm / feeds * 1000:.1f} ms; all "
          f"{(cpu + pool + server + farm) / feeds * 1000:.1f} ms per feed", flush=True)
    for k, v in counts.most_common(top):
        print(f"  {v / feeds:6.2f}  {k}")


def run(farm: Farm, urls: list[str], kind: str, workers: int, concurrency: int, top: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, State(kind, Path(tmp)) as state:
        hook = Hook()
        files = {f"w{i + 1}": Path(tmp) / f"counts-w{i + 1}-{{pid}}.json" for i in range(workers)}
        extract = max(1, (os.cpu_count() or 2) // workers)
        drill = Drill(Path(tmp), state, urls, hook, full_text=False, lease=30.0, extract_workers=extract,
                      fetch=f", concurrency: {concurrency}, per_host: 2, max_entries_per_feed: 50")
        env_path = os.environ.get("PYTHONPATH", "")
        try:
            os.environ["PYTHONPATH"] = str(REPO / "bench" / "countsql") + (os.pathsep + env_path if env_path else "")
            for name in files:
                os.environ["MONITOR_COUNT_FILE"] = str(files[name])
                drill.start(name)
            os.environ.pop("MONITOR_COUNT_FILE")
            start = snapshot(drill, files, farm)
            cold = timed_cycle(drill, len(urls), 600)
            drill.wait_done(timeout=600)
            after_cold = snapshot(drill, files, farm)
            print(f"== {kind} x{workers}: cold {cold:.1f}s", flush=True)
            report("cold (with its deliveries)", len(urls), start, after_cold, top)
            drill.all_due()
            warm = timed_cycle(drill, len(urls), 600)
            time.sleep(1.0)
            after_warm = snapshot(drill, files, farm)
            print(f"== {kind} x{workers}: warm {warm:.1f}s", flush=True)
            report("warm", len(urls), after_cold, after_warm, top)
            if os.environ.get("MONITOR_PROFILE"):     # periods: 0 start-up, 1 cold, 2 warm
                for f in Path(tmp).glob("counts-*.prof"):
                    (Path(os.environ["MONITOR_PROFILE_DIR"]) / f"{kind}-x{workers}-{f.name}").write_bytes(f.read_bytes())
        finally:
            if env_path:
                os.environ["PYTHONPATH"] = env_path
            else:
                os.environ.pop("PYTHONPATH", None)
            drill.stop()
            hook.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--hosts", type=int, default=40)
    ap.add_argument("--items", type=int, default=5)
    ap.add_argument("--latency-ms", type=int, default=50)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--setups", default="sqlite,pg1")
    ap.add_argument("--top", type=int, default=25, help="statements to list per cycle")
    ap.add_argument("--profile", metavar="DIR", help="cProfile each worker's main thread per cycle into DIR")
    args = ap.parse_args()
    if args.profile:
        os.environ["MONITOR_PROFILE"] = "1"
        os.environ["MONITOR_PROFILE_DIR"] = str(Path(args.profile).resolve())
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    with Farm("--feeds", str(args.feeds), "--hosts", str(args.hosts), "--items", str(args.items),
              "--latency-ms", str(args.latency_ms), "--seed", "19") as farm:
        urls = farm.feed_urls()
        for setup in args.setups.split(","):
            kind, n = ("sqlite", 1) if setup == "sqlite" else ("postgresql", int(setup[2:]))
            run(farm, urls, kind, n, args.concurrency, args.top)


if __name__ == "__main__":
    main()
