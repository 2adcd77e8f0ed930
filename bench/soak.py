"""Bench: a soak run. Do memory (RSS) and the database level off once retention is pruning?

Starts ../shared/tools/feedfarm.py on 127.0.0.1 and runs N cycles in this process, each:
POST /advance (the farm publishes a round), `pipeline.poll_cycle(deps, every_feed=True)`,
`run_digests(..., force=True)` to a `file` channel, and the daemon's prune job
(`Daemon.prune`: `Store.prune(retention_days)` and the story signatures past the window).
Simulated time: the store's clock moves one hour per cycle, so `retention_days: 1`
prunes what is 24 cycles old, and the story window is 30 minutes of farm time (about
30 rounds). full_text is off (no page fetch, no extraction) to keep a run to minutes.
The worker pool runs as in the daemon (feed parsing and per-article analysis in its
processes; --no-pool keeps them in this one): RSS is this process's; PSS (proportional
set size, /proc/PID/smaps_rollup, shared pages divided among the processes using them)
is given for this process and for the whole tree (this process, the forkserver, the
workers), which is what the daemon costs the machine.

Prints a row every --every cycles (RSS, PSS, database and WAL bytes, row counts, digests
directory bytes) and a verdict comparing the growth over the last third with the first.

    .venv/bin/python bench/soak.py                    # 200 cycles, 100 feeds x 10 items
    .venv/bin/python bench/soak.py --cycles 60 --feeds 30
    .venv/bin/python bench/soak.py --feeds 1000 --rules rules   # the issue-18 footprint: shipped pack
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.config import settings as config_mod  # noqa: E402
from monitor.daemon import pipeline  # noqa: E402
from monitor.daemon.run import Daemon, open_deps  # noqa: E402
from monitor.deliver import delivery  # noqa: E402
from monitor.store import sqlite as store  # noqa: E402
from tests.farm import Farm  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


class SimClock:
    """now_utc for the monitor modules: real start time plus one simulated hour per cycle."""

    def __init__(self):
        self.start = store.now_utc()
        self.cycle = 0

    def __call__(self):
        return self.start + timedelta(hours=self.cycle)


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def descendants(pid: int) -> list[int]:
    """The processes below `pid` (workers, the forkserver), from /proc's parent links."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def pss_bytes(pid: int) -> int:
    """Proportional set size of one process (shared pages divided among their users)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_pss(leave_out: int | None = None) -> tuple[int, int, int]:
    """(PSS of this process, PSS of this process and every descendant, number of processes);
    `leave_out`: a child that is not the daemon's (the feed farm) and its own children."""
    me = os.getpid()
    skip = {leave_out, *descendants(leave_out)} if leave_out else set()
    kids = [k for k in descendants(me) if k not in skip]
    return pss_bytes(me), pss_bytes(me) + sum(pss_bytes(k) for k in kids), 1 + len(kids)


def dir_bytes(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) if p.exists() else 0


RULES = """rules:
  - {id: tallinn, title: Tallinn, query: 'Tallinn'}
  - {id: riga, title: Riga, query: 'Riga'}
  - {id: budget, title: Budget, query: 'budget'}
"""


def write_config(tmp: Path, feeds: list[str], rules: Path | None = None):
    if rules is None:
        (tmp / "rules").mkdir(exist_ok=True)
        (tmp / "rules" / "soak.yaml").write_text(RULES)     # feed-level words: full_text is off
    rules_path = rules.resolve() if rules is not None else tmp / "rules"
    lines = "\n".join(f"  - url: {u}" for u in feeds)
    text = f"""
state: {{path: {tmp}/m.db, digests_dir: {tmp}/digests}}
rules: {{path: {rules_path}}}
fetch: {{allow_private: ["127.0.0.1/32"], first_poll_alert_hours: all, respect_robots: false, full_text: false}}
dedupe: {{story_window_hours: 0.5}}
digest: {{max_items: 1000}}
retention_days: 1
channels: [{{name: archive, type: file, schedule: hourly}}]
feeds:
{lines}
"""
    return config_mod.parse(text, "soak.yaml", tmp)


def sample(cycle: int, deps, tmp: Path, started: float, farm_pid: int | None = None) -> dict:
    gc.collect()
    db = deps.config.state_path
    wal = Path(str(db) + "-wal")
    counts = deps.store.counts()
    sent = deps.store.db.execute("SELECT count(*) FROM outbox WHERE status = 'sent'").fetchone()[0]
    entries = deps.store.db.execute("SELECT count(*) FROM entries").fetchone()[0]
    sigs = deps.store.db.execute("SELECT count(*) FROM story_signatures").fetchone()[0]
    main_pss, pss, procs = tree_pss(farm_pid)
    return {"cycle": cycle, "rss": rss_bytes(), "pss_main": main_pss, "pss": pss, "procs": procs, "db": db.stat().st_size, "wal": wal.stat().st_size if wal.exists()
            else 0, "articles": counts["articles"], "entries": entries, "signatures": sigs,
            "index": len(deps.stories) if deps.stories is not None else 0,
            "digests": dir_bytes(tmp / "digests"), "sent": sent, "seconds": time.monotonic() - started}


def row(s: dict) -> str:
    mib = 1024 * 1024
    return (f"{s['cycle']:>6} {s['rss'] / mib:>8.1f} {s['pss_main'] / mib:>8.1f} {s['pss'] / mib:>8.1f} "
            f"{s['procs']:>5} {s['db'] / mib:>8.2f} {s['wal'] / mib:>8.2f} "
            f"{s['articles']:>9} {s['entries']:>8} {s['signatures']:>6} {s['index']:>6} "
            f"{s['sent']:>6} {s['digests'] / mib:>9.2f} {s['seconds']:>8.0f}")


def growth(samples: list[dict], key: str) -> tuple[float, float]:
    """Growth over the first third and over the last third of the run."""
    n = len(samples) - 1
    a, b = samples[0][key], samples[n // 3][key]
    c, d = samples[n - n // 3][key], samples[n][key]
    return b - a, d - c


REAL_NOW = store.now_utc


def use_clock(clock: SimClock) -> None:
    """The simulated clock for every monitor module that imported now_utc by name (the store's
    housekeeping among them, or retention never prunes); the farm keeps its own. Called again
    after start-up, for the modules imported lazily since."""
    for name, mod in list(sys.modules.items()):
        if name.startswith("monitor.") and getattr(mod, "now_utc", None) is REAL_NOW:
            mod.now_utc = clock


async def soak(args, tmp: Path) -> list[dict]:
    clock = SimClock()
    use_clock(clock)
    samples = []
    with Farm("--feeds", str(args.feeds), "--items", str(args.items), "--seed", str(args.seed)) as farm:
        config = write_config(tmp, farm.feed_urls(), args.rules)
        started = time.monotonic()
        async with open_deps(config, use_pool=args.pool) as deps:
            d = Daemon(deps)
            for cycle in range(args.cycles + 1):
                clock.cycle = cycle
                use_clock(clock)
                if cycle:
                    farm.advance(1)
                await pipeline.poll_cycle(deps, every_feed=True)
                await delivery.run_digests(deps.store, config, force=True)
                d.prune()
                if cycle % args.every == 0:
                    samples.append(sample(cycle, deps, tmp, started, farm.proc.pid if farm.proc else None))
                    print(row(samples[-1]), flush=True)
    return samples


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cycles", type=int, default=200)
    p.add_argument("--feeds", type=int, default=100)
    p.add_argument("--items", type=int, default=10)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--every", type=int, default=20)
    p.add_argument("--rules", type=Path, default=None,
                   help="a rules folder instead of the soak's three feed-level rules, e.g. rules (the shipped pack)")
    p.add_argument("--no-pool", dest="pool", action="store_false",
                   help="parse and match in this process (no worker pool), as before issue 18")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(f"soak: {args.cycles} cycles, {args.feeds} feeds x {args.items} items, seed {args.seed}, "
          f"retention 1 simulated day (24 cycles), full_text off, rules: {args.rules or 'the soak three'}")
    print(f"{'cycle':>6} {'RSS MiB':>8} {'PSS main':>8} {'PSS tree':>8} {'procs':>5} {'DB MiB':>8} {'WAL MiB':>8} {'articles':>9} {'entries':>8} "
          f"{'sigs':>6} {'index':>6} {'sent':>6} {'digests':>9} {'seconds':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        samples = asyncio.run(soak(args, Path(tmp)))
    ok = True
    for key, label in (("rss", "RSS"), ("pss", "PSS of the process tree"), ("db", "DB file"),
                       ("articles", "articles")):
        first, last = growth(samples, key)
        level = last <= max(0.25 * first, 0.01 * samples[-1][key])
        ok &= level
        print(f"{label}: grew {first:,.0f} over the first third, {last:,.0f} over the last third: "
              f"{'levels off' if level else 'STILL GROWING'}")
    first, last = growth(samples, "digests")
    print(f"digests directory (not under retention): {first:,.0f} then {last:,.0f} bytes per third")
    print("verdict:", "memory and database level off" if ok else "something keeps growing")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
