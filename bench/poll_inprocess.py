"""Polling benchmark: monitor's fetcher against a plain sequential feedparser loop.

Starts the feed farm (1,000 feeds, 30 items each, 100 hosts, 150 ms latency), then
measures the daemon's own poll cycle (`pipeline.poll_cycle`, feed content only, no
extraction) cold and warm, then the bare fetcher: a cold cycle (every feed new: conditional-GET fetch, parse off the event loop,
entries and validators saved to a throwaway SQLite store) and a warm cycle (the same
feeds with their validators: every answer a 304), each with wall time, CPU time of this
process and peak RSS. The baseline is `feedparser.parse(url)` one feed after another
(with etag/modified on the warm pass), run over a sample and extrapolated, as printed.

    .venv/bin/python bench/poll.py                        # the benchmark
    .venv/bin/python bench/poll.py --sweep 25,50,100,200  # warm cycles at several pool sizes too
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import feedparser

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from monitor.config.settings import FetchSettings  # noqa: E402
from monitor.errors import FeedParseError, FetchError  # noqa: E402
from monitor.extract.pool import ExtractorPool  # noqa: E402
from monitor.ingest.feeds import parse_feed  # noqa: E402
from monitor.ingest.fetch import Fetcher  # noqa: E402
from monitor.store.sqlite import Store  # noqa: E402

ALLOW = ("127.0.0.1/32", "127.0.1.0/24")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from farmproc import start_farm  # noqa: E402


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def cycle(settings: FetchSettings, urls: list[str], store: Store | None,
                validators: dict[str, tuple[str | None, str | None]], pool: ExtractorPool | None = None) -> dict:
    """One poll cycle over every URL; fills `validators`; returns counts.

    With a pool, feeds are parsed in its worker processes, as the daemon does."""
    counts = {"200": 0, "304": 0, "failed": 0, "entries": 0}

    async def one(fetcher: Fetcher, url: str) -> None:
        etag, modified = validators.get(url, (None, None))
        try:
            r = await fetcher.fetch_feed(url, etag, modified)
            if r.not_modified:
                counts["304"] += 1
                return
            args = (r.body, r.url, r.content_type, settings.max_entries_per_feed)
            parsed = await (pool.call(parse_feed, *args) if pool else asyncio.to_thread(parse_feed, *args))
        except (FetchError, FeedParseError):
            counts["failed"] += 1
            return
        counts["200"] += 1
        counts["entries"] += len(parsed.entries)
        validators[url] = (r.etag, r.last_modified)
        if store is not None:
            store.save_feed_items(url, parsed.entries, [], {"etag": r.etag, "last_modified": r.last_modified})

    async with Fetcher(settings) as fetcher:
        await asyncio.gather(*(one(fetcher, u) for u in urls))
    return counts


def pipeline_config(urls: list[str], tmp: Path, concurrency: int):
    """The daemon's own config for these feeds: state in `tmp`, no rules, feed content only."""
    from monitor.config import settings as config
    (tmp / "rules").mkdir(exist_ok=True)
    feeds = "\n".join(f"  - url: {u}" for u in urls)
    return config.parse(f"""
state: {{path: {tmp}/pipeline.db}}
rules: {{path: {tmp}/rules}}
fetch: {{allow_private: {list(ALLOW)}, first_poll_alert_hours: all, full_text: false, concurrency: {concurrency}}}
channels: [{{name: a, type: file}}]
feeds:
{feeds}
""", "<bench>")


async def pipeline_cycles(cfg, rows: list) -> None:
    """A cold then a warm cycle of the real poll pipeline (fetch, parse, dedupe, match, store).

    The daemon's dependencies (worker pool, story index) are built once, as in `monitor run`;
    only the cycles are measured.
    """
    from monitor.daemon import pipeline
    from monitor.daemon import run as daemon
    async with daemon.open_deps(cfg) as deps:
        await deps.extractor.warm_up()
        for label in ("pipeline cold", "pipeline warm"):
            c0, t0 = cpu(), time.perf_counter()
            d = (await pipeline.poll_cycle(deps, every_feed=True)).as_dict()
            out = {"200": d["ok"], "304": d["not-modified"], "failed": d["failed"], "entries": d["new_entries"]}
            rows.append((label, len(cfg.feeds), time.perf_counter() - t0, cpu() - c0, peak_rss_mb(), out))


def measure(fn) -> tuple[dict, float, float, float]:
    c0, t0 = cpu(), time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0, cpu() - c0, peak_rss_mb()


def sequential(urls: list[str], validators: dict) -> dict:
    counts = {"200": 0, "304": 0, "failed": 0, "entries": 0}
    for u in urls:
        etag, modified = validators.get(u, (None, None))
        d = feedparser.parse(u, etag=etag, modified=modified)
        status = d.get("status", 0)
        if status == 304:
            counts["304"] += 1
        elif status == 200:
            counts["200"] += 1
            counts["entries"] += len(d.entries)
            validators[u] = (d.get("etag"), d.get("modified"))
        else:
            counts["failed"] += 1
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--items", type=int, default=30)
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--latency-ms", type=int, default=150)
    ap.add_argument("--concurrency", type=int, default=FetchSettings().concurrency)
    ap.add_argument("--sample", type=int, default=100, help="feeds in the sequential baseline (0: skip)")
    ap.add_argument("--sweep", default="", help="comma-separated pool sizes for extra warm cycles")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-poll-"))
    proc, base = start_farm(args, tmp / "farm.url")
    try:
        import urllib.request
        urls = urllib.request.urlopen(base + "/feeds.txt").read().decode().split()
        settings = FetchSettings(allow_private=ALLOW, concurrency=args.concurrency)
        store = Store(tmp / "bench.db")
        store.sync_feeds([_Feed(u) for u in urls])
        validators: dict = {}
        rows = []
        cfg = pipeline_config(urls, tmp, args.concurrency)
        asyncio.run(pipeline_cycles(cfg, rows))
        pool = ExtractorPool()
        asyncio.run(pool.warm_up())
        cold, wall, cpu_s, rss = measure(lambda: asyncio.run(cycle(settings, urls, store, validators, pool)))
        rows.append(("monitor cold", len(urls), wall, cpu_s, rss, cold))
        pool.close()
        warm, wall, cpu_s, rss = measure(lambda: asyncio.run(cycle(settings, urls, store, validators)))
        rows.append(("monitor warm", len(urls), wall, cpu_s, rss, warm))
        for size in [int(x) for x in args.sweep.split(",") if x.strip()]:
            s = replace(settings, concurrency=size)
            out, wall, cpu_s, rss = measure(lambda s=s: asyncio.run(cycle(s, urls, None, validators)))
            rows.append((f"warm, pool {size}", len(urls), wall, cpu_s, rss, out))
        if args.sample:
            sample = urls[:: max(1, len(urls) // args.sample)][: args.sample]
            seq_val: dict = {}
            scale = len(urls) / len(sample)
            for label in ("sequential cold", "sequential warm"):
                out, wall, cpu_s, rss = measure(lambda: sequential(sample, seq_val))
                rows.append((f"{label} (x{scale:g} of {len(sample)})", len(urls), wall * scale, cpu_s * scale,
                             rss, out))
        store.close()
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"\nfarm: {args.feeds} feeds x {args.items} items, {args.hosts} hosts, {args.latency_ms} ms latency; "
          f"per_host={settings.per_host}, concurrency (= pool size)={args.concurrency}")
    print("(pipeline rows: monitor.daemon.pipeline.poll_cycle, the daemon's own cycle; cpu s counts this process only)")
    print(f"{'run':38} {'feeds':>6} {'wall s':>8} {'cpu s':>7} {'peak RSS MB':>12}  result")
    for label, n, wall, cpu_s, rss, out in rows:
        print(f"{label:38} {n:6d} {wall:8.2f} {cpu_s:7.2f} {rss:12.0f}  {out}")
    by = {r[0].split(" (")[0]: r for r in rows}
    for kind in ("cold", "warm"):
        seq = by.get(f"sequential {kind}")
        if seq:
            print(f"speed-up {kind}: fetcher {seq[2] / by[f'monitor {kind}'][2]:.0f}x, "
                  f"pipeline {seq[2] / by[f'pipeline {kind}'][2]:.0f}x wall")


class _Feed:
    def __init__(self, url: str):
        self.url, self.name, self.tags, self.interval_minutes, self.full_text = url, "", (), None, False


if __name__ == "__main__":
    main()
