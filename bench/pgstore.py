"""The store's two backends side by side: `poll --once` on SQLite and on PostgreSQL, and
`monitor migrate --to` moving the SQLite state into PostgreSQL.

Starts the feed farm (default 500 feeds x 20 items on 50 hosts, no latency: the store's
share is what differs), writes one config per backend (feed content only: extraction is
the same CPU on both), and times each command as a whole process:

- poll cold: a fresh state, every item new (entries, articles, matches, outbox, story
  signatures written); warm: the same state again (every feed answers 304: reads and
  small updates only);
- migrate: the cold SQLite state copied into a fresh PostgreSQL schema (rows per second),
  then run again (everything already there: the cost of a resumed run's skipping);
- in-process: the store alone, `save_feed_items` of `--feeds` feeds x `--items` new entries
  (an article and a match each), one unit of work per feed as a poll does, then the same
  entries again (the warm upsert), per backend, in feeds per second.

PostgreSQL is the local server (MONITOR_BENCH_PG, default
postgresql://postgres@127.0.0.1:5432/test), in a throwaway schema dropped afterwards.
Run under the shared lock:

    flock /work/notes/heavy.lock .venv/bin/python bench/pgstore.py
    .venv/bin/python bench/pgstore.py --feeds 200 --items 10 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from tests.farm import Farm  # noqa: E402

PG = os.environ.get("MONITOR_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


def timed(cfg: Path, *args: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "monitor", "--config", str(cfg), *args], capture_output=True,
                         text=True, cwd=REPO, timeout=3600)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({out.returncode}): {out.stderr[-2000:]}")
    return wall, out.stdout


def schema() -> tuple[str, str]:
    import psycopg
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    sep = "&" if "?" in PG else "?"
    return name, f"{PG}{sep}options={quote(f'-csearch_path={name}')}"


def drop(name: str) -> None:
    import psycopg
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def config(urls: list[str], state: Path, state_url: str | None) -> Path:
    """The shipped config with the farm's feeds, feed content only, the state in `state` or at `state_url`."""
    state.mkdir(parents=True, exist_ok=True)
    cfg = yaml.safe_load((REPO / "config" / "monitor.yaml").read_text())
    cfg["state"] = {"url": state_url} if state_url else {"path": str(state / "monitor.db")}
    cfg["state"]["digests_dir"] = str(state / "digests")
    cfg["rules"] = {**cfg.get("rules", {}), "path": str(REPO / "rules")}
    cfg["fetch"] = {**cfg.get("fetch", {}), "allow_private": ["127.0.0.0/8"], "first_poll_alert_hours": "all",
                    "full_text": False}
    cfg.pop("http", None)       # poll --once serves nothing (and the web interface is SQLite's)
    cfg["feeds"] = [{"url": u} for u in urls]
    path = state / "monitor.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def one_round(farm: Farm, tmp: Path, n: int) -> dict[str, float]:
    feeds = farm.feed_urls()
    made: list[str] = []
    try:
        pg_name, pg_url = schema()
        made.append(pg_name)
        lite = config(feeds, tmp / f"lite{n}", None)
        pg = config(feeds, tmp / f"pg{n}", pg_url)
        res: dict[str, float] = {}
        for name, cfg in (("sqlite", lite), ("postgresql", pg)):
            res[f"{name} cold"], _ = timed(cfg, "poll", "--once", "--all")
            res[f"{name} warm"], _ = timed(cfg, "poll", "--once", "--all")
        target_name, target_url = schema()
        made.append(target_name)
        res["migrate"], out = timed(lite, "migrate", "--to", target_url)
        res["rows"] = float(re.search(r"counts agree \((\d+) rows\)", out).group(1))   # type: ignore[union-attr]
        res["migrate again"], _ = timed(lite, "migrate", "--to", target_url)
        return res
    finally:
        from monitor.store.pg_base import close_pools
        close_pools()
        for name in made:
            drop(name)


def in_process(feeds: int, items: int) -> dict[str, float]:
    """Feeds per second through Store.save_feed_items on each backend (no network, no start-up)."""
    from monitor.config.settings import FeedSettings
    from monitor.models import Article, Entry, Match
    from monitor.store.postgres import PgStore, close_pools
    from monitor.store.sqlite import Store
    out: dict[str, float] = {}
    name, url = schema()
    try:
        with tempfile.TemporaryDirectory() as d:
            for backend, store in (("sqlite", Store(Path(d) / "m.db")), ("postgresql", PgStore(url))):
                urls = [f"https://f{i}.example/feed" for i in range(feeds)]
                store.sync_feeds([FeedSettings(url=u) for u in urls])
                batches = []
                for i, u in enumerate(urls):
                    entries = [Entry(u, f"g{j}", f"https://f{i}.example/a/{j}") for j in range(items)]
                    arts = [(Article(url=e.url, feed_url=u, guid=e.guid, title=f"Title {j}", text="text " * 200),
                             [Match("rule", "normal")], ["desk"]) for j, e in enumerate(entries)]
                    batches.append((u, entries, arts))
                for phase, with_articles in (("cold", True), ("warm", False)):
                    t0 = time.perf_counter()
                    for u, entries, arts in batches:
                        store.save_feed_items(u, entries, arts if with_articles else [], {"etag": "x"})
                    out[f"{backend} {phase}"] = feeds / (time.perf_counter() - t0)
                store.close()
    finally:
        close_pools()
        drop(name)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feeds", type=int, default=500)
    ap.add_argument("--items", type=int, default=20)
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--in-process-only", action="store_true", help="Only the store alone (no farm, no commands).")
    args = ap.parse_args()
    fps = in_process(args.feeds, args.items)
    print(f"store alone, {args.feeds} feeds x {args.items} entries (article + match each), one unit of work "
          "per feed, feeds per second:")
    for key, value in fps.items():
        print(f"  {key:<16} {value:7.0f} feeds/s")
    if args.in_process_only:
        return
    with tempfile.TemporaryDirectory() as d, \
            Farm("--feeds", str(args.feeds), "--items", str(args.items), "--hosts", str(args.hosts)) as farm:
        runs = [one_round(farm, Path(d), n) for n in range(args.repeat)]
    print(f"{args.feeds} feeds x {args.items} items on {args.hosts} hosts, feed content only, "
          f"{args.repeat} run(s), median wall seconds of the whole command:")
    for key in runs[0]:
        if key == "rows":
            continue
        print(f"  {key:<16} {statistics.median(r[key] for r in runs):7.1f} s")
    rows = statistics.median(r["rows"] for r in runs)
    print(f"  migrate --to: {rows:.0f} rows, {rows / statistics.median(r['migrate'] for r in runs):.0f} rows/s "
          "(whole command)")


if __name__ == "__main__":
    main()
