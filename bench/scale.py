"""Scaling benchmark: feeds per minute through 1, 2 and 4 PostgreSQL workers against one SQLite daemon.

Starts the feed farm (default 3,000 feeds on 250 hosts (the farm allows at most 250; the issue asks 300), 300 ms mean time to first byte,
5 items each), then for each setup a fresh state (an SQLite file, or a PostgreSQL
database of its own) and N `monitor run --worker-id wN` processes, each with
`fetch.concurrency: 50` (per worker) and `fetch.per_host: 2`, feed content only. It
measures the cold cycle (every feed new) from the first poll any worker finishes to the
moment every feed has been polled, then a warm cycle (every feed made due again: 304s),
and prints feeds per minute. With `--full-text N`, 1 and 2 workers then poll the first N
feeds with full text (pages fetched and extracted), reported as it comes.

    flock /work/notes/heavy.lock .venv/bin/python bench/scale.py
    .venv/bin/python bench/scale.py --feeds 600 --hosts 60 --setups sqlite,pg1,pg2   # a quick look

Each cycle also reports the CPU seconds it cost, read from /proc from its first finished poll to
its last: the workers with their parsing pools, the PostgreSQL backends serving the run's
database, the farm, and the whole machine (all processes, the other users of the cores
included), as cores busy on average and CPU ms per poll. With `--code LABEL=DIR` (repeatable)
every setup runs once per checkout, one after the other on the same farm (the workers start
with DIR as their working directory, so they import DIR's `monitor`): an A/B of two commits in
one run.

    flock /work/notes/heavy.lock .venv/bin/python bench/scale.py --setups sqlite,pg1,pg2 --full-text 0 \
        --code base=/work/wt-base --code new=.

Worker processes, the farm and the databases are removed at the end. Numbers go to
docs/scaling.md and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests import workers_drill  # noqa: E402
from tests.farm import Farm  # noqa: E402
from tests.workers_drill import Drill, Hook, State, feed_requests  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
POLLED = "SELECT (SELECT count(*) FROM feeds WHERE next_poll != ''), (SELECT count(*) FROM feeds)"


class Counter:
    """Reads how many feeds were polled, on one connection kept open (PostgreSQL: not a new backend,
    forked and torn down, 20 times a second beside the workers being measured)."""

    def __init__(self, state: State):
        self.state = state
        self.conn: Any = None

    def polled(self) -> tuple[int, int]:
        if self.state.kind != "postgresql":
            return polled(self.state)
        import psycopg
        try:
            if self.conn is None:
                self.conn = psycopg.connect(self.state.url, autocommit=True)
            row = self.conn.execute(POLLED).fetchone()
            return (int(row[0]), int(row[1])) if row else (0, 0)
        except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn):
            return 0, 0

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def polled(state: State) -> tuple[int, int]:
    """(feeds polled since made due, feeds) in the state."""
    rows = state.query(POLLED)
    return rows[0] if rows else (0, 0)


def _procs() -> dict[int, tuple[int, float, bytes]]:
    """pid -> (parent pid, CPU seconds with its reaped children's, command line) of every process."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        out[int(entry)] = (int(fields[1]), sum(int(x) for x in fields[11:15]) / TICKS, cmd)
    return out


def _tree(procs: dict, root: int) -> float:
    total, todo = 0.0, [root]
    while todo:
        p = todo.pop()
        if p in procs:
            total += procs[p][1]
        todo += [c for c, (parent, _, _) in procs.items() if parent == p]
    return total


def machine_busy() -> float:
    """CPU seconds the machine's cores have been busy (all processes), from /proc/stat."""
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in f.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / TICKS


def cpu_sample(drill: Drill, farm: Farm) -> dict[str, float]:
    """CPU seconds so far of the run's workers (with their pools), PostgreSQL backends, farm; the machine's."""
    procs = _procs()
    marker = drill.state.db.encode() if drill.state.kind == "postgresql" else None
    return {"workers": sum(_tree(procs, p.pid) for p in drill.procs.values()),
            "server": sum(c for _, c, cmd in procs.values() if marker and marker in cmd and b"postgres" in cmd),
            "farm": _tree(procs, farm.proc.pid) if farm.proc else 0.0,
            "machine": machine_busy()}


def timed_cycle(drill: Drill, total: int, timeout: float) -> float:
    """Seconds from the first finished poll to the last (every feed of `total` polled)."""
    return timed_cycle_cpu(drill, total, timeout)[0]


def timed_cycle_cpu(drill: Drill, total: int, timeout: float, farm: Farm | None = None,
                    ) -> tuple[float, dict[str, float]]:
    """`timed_cycle`, and (with the farm) the CPU seconds spent from the first finished poll to the last."""
    t0 = time.monotonic()
    first = None
    before: dict[str, float] = {}
    counter = Counter(drill.state)
    try:
        while time.monotonic() - t0 < timeout:
            drill.alive()
            done, feeds = counter.polled()
            if done and first is None:
                first = time.monotonic()
                before = cpu_sample(drill, farm) if farm is not None else {}
            if feeds >= total and done >= total:
                seconds = time.monotonic() - (first or t0)
                after = cpu_sample(drill, farm) if farm is not None else {}
                return seconds, {k: after[k] - before.get(k, 0.0) for k in after}
            time.sleep(0.05)
    finally:
        counter.close()
    raise SystemExit(f"bench: not every feed was polled within {timeout:.0f}s: {polled(drill.state)}")


def run_setup(farm: Farm, urls: list[str], kind: str, workers: int, *, full_text: bool, concurrency: int,
              timeout: float, code: Path = REPO) -> dict:
    workers_drill.REPO = code          # the workers' working directory: the `monitor` they import
    with tempfile.TemporaryDirectory() as tmp, State(kind, Path(tmp)) as state:
        hook = Hook()
        extract = max(1, (os.cpu_count() or 2) // workers)
        drill = Drill(Path(tmp), state, urls, hook, full_text=full_text, lease=30.0, extract_workers=extract,
                      fetch=f", concurrency: {concurrency}, per_host: 2, max_entries_per_feed: 50")
        before = sum(feed_requests(farm).values())
        try:
            for i in range(workers):
                drill.start(f"w{i + 1}")
            cold, cold_cpu = timed_cycle_cpu(drill, len(urls), timeout, farm)
            requests = sum(feed_requests(farm).values()) - before
            drill.wait_done(timeout=timeout)
            drill.all_due()
            warm, warm_cpu = timed_cycle_cpu(drill, len(urls), timeout, farm)
            articles = len(drill.articles())
        finally:
            drill.stop()
            hook.close()
            workers_drill.REPO = REPO
    return {"setup": f"{kind} x{workers}", "feeds": len(urls), "cold_s": cold, "warm_s": warm,
            "cold_fpm": len(urls) / cold * 60, "warm_fpm": len(urls) / warm * 60, "articles": articles,
            "feed_requests_cold": requests, "cold_cpu": cold_cpu, "warm_cpu": warm_cpu}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feeds", type=int, default=3000)
    ap.add_argument("--hosts", type=int, default=250)
    ap.add_argument("--items", type=int, default=5)
    ap.add_argument("--latency-ms", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=50, help="fetch.concurrency of each worker")
    ap.add_argument("--setups", default="sqlite,pg1,pg2,pg4", help="comma-separated: sqlite, pgN")
    ap.add_argument("--full-text", type=int, default=300, help="feeds for the full-text runs (0: none)")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--code", action="append", default=[], metavar="LABEL=DIR",
                    help="run every setup with the monitor of this checkout too (repeatable; default: this one)")
    args = ap.parse_args()
    codes = [(label, Path(d).resolve()) for label, _, d in (c.partition("=") for c in args.code)] or [("", REPO)]
    farm_args = ["--feeds", str(args.feeds), "--hosts", str(args.hosts), "--items", str(args.items),
                 "--latency-ms", str(args.latency_ms), "--seed", "19"]
    results = []
    with Farm(*farm_args) as farm:
        urls = farm.feed_urls()
        for setup in args.setups.split(","):
            kind, n = ("sqlite", 1) if setup == "sqlite" else ("postgresql", int(setup[2:]))
            for label, code in codes:
                r = run_setup(farm, urls, kind, n, full_text=False, concurrency=args.concurrency,
                              timeout=args.timeout, code=code)
                r["code"] = label
                results.append(r)
                print(_line(r), flush=True)
        if args.full_text:
            for n in (1, 2):
                for label, code in codes:
                    r = run_setup(farm, urls[:args.full_text], "postgresql", n, full_text=True,
                                  concurrency=args.concurrency, timeout=args.timeout, code=code)
                    r["setup"] += " full text"
                    r["code"] = label
                    results.append(r)
                    print(_line(r), flush=True)
    for label, _ in codes:
        base = {r["setup"]: r for r in results if r["code"] == label}
        at = f" ({label})" if label else ""
        one = base.get("postgresql x1")
        if one and "sqlite x1" in base:
            print(f"PostgreSQL x1 / SQLite cold{at}: {one['cold_fpm'] / base['sqlite x1']['cold_fpm']:.2f}")
        for n in (2, 4):
            r = base.get(f"postgresql x{n}")
            if one and r:
                print(f"PostgreSQL x{n} / x1 cold{at}: {r['cold_fpm'] / one['cold_fpm']:.2f}, "
                      f"warm: {r['warm_fpm'] / one['warm_fpm']:.2f}")


def _line(r: dict) -> str:
    label = f" [{r['code']}]" if r.get("code") else ""
    return (f"{r['setup'] + label:<34} {r['feeds']:>5} feeds  cold {r['cold_s']:6.1f}s = {r['cold_fpm']:7.0f} "
            f"feeds/min  warm {r['warm_s']:6.1f}s = {r['warm_fpm']:7.0f} feeds/min  {r['articles']} articles, "
            f"{r['feed_requests_cold']} feed requests cold\n"
            f"    CPU cold: {_cpu(r['cold_cpu'], r['cold_s'], r['feeds'])}\n"
            f"    CPU warm: {_cpu(r['warm_cpu'], r['warm_s'], r['feeds'])}")


def _cpu(c: dict[str, float], seconds: float, feeds: int) -> str:
    """The cycle's CPU: per poll, by process kind, as cores busy on average, and the machine's."""
    run = c["workers"] + c["server"] + c["farm"]
    return (f"{run / feeds * 1000:.1f} ms per poll (workers {c['workers'] / feeds * 1000:.1f}, PostgreSQL "
            f"{c['server'] / feeds * 1000:.1f}, farm {c['farm'] / feeds * 1000:.1f}) = {run / seconds:.2f} cores; "
            f"machine {c['machine'] / seconds:.2f} cores busy of {os.cpu_count()}")


if __name__ == "__main__":
    main()
