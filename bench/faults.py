"""Fault drill: the real poll cycle against a feed farm where a share of the feeds misbehave.

Starts the feed farm (../shared/tools/feedfarm.py) with every fault kind it has, a canary
listener on 127.0.0.2 (where the farm's ssrf-link feeds point their items; monitor must
never connect there), and runs `pipeline.poll_cycle(deps, every_feed=True)` through
`daemon.open_deps` (real fetcher, extraction pool, story index, rules) for N cycles with
`POST /advance` in between. Then it checks, per fault kind, the state each feed must end
in (see EXPECTED), that every article of every healthy outlet is stored (by canonical
URL, over every truth snapshot a cycle saw), that a normal (not every_feed) cycle right
after respects backoff and Retry-After, that no "internal error" or traceback was logged,
and that peak RSS stays under the limit. Prints a table per fault kind; exits 1 if any
check fails.

    .venv/bin/python bench/faults.py                       # 1,000 feeds, 10% faulty, 10 cycles
    .venv/bin/python bench/faults.py --feeds 150 --cycles 3

tests/test_faults.py runs the same drill on a small farm (marked slow).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import resource
import socket
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urldefrag

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from monitor.config import settings as config_mod  # noqa: E402
from monitor.daemon import pipeline  # noqa: E402
from monitor.daemon.run import open_deps  # noqa: E402
from monitor.ingest import polling  # noqa: E402
from monitor.store.sqlite import parse_iso  # noqa: E402
from tests.farm import Farm  # noqa: E402

FARM_ALLOW = ("127.0.0.1/32", "127.0.1.0/24")   # the farm's hosts; the canary 127.0.0.2 is NOT allowed
CANARY_HOST = "127.0.0.2"
RSS_LIMIT_MB = 300.0
RETRY_AFTER = 120.0                               # what the farm's retry503 feeds send

# The final state each fault kind must reach; "error" is a regex over the feed's last_error.
EXPECTED = {
    None: "active, no error, every article stored (full text)",
    "error500": "failing every cycle, HTTP 500, exponential backoff",
    "flaky": "recovers after every failure (never 2 in a row), every article of an ok poll stored",
    "retry503": "failing every cycle, HTTP 503, next attempt >= Retry-After (120 s)",
    "slow": "failing every cycle, FetchError: timeout, backoff",
    "malformed": "truncated document: lenient parse gives what is there (ok) or FeedParseError, no crash",
    "html": "failing every cycle, FeedParseError (not a feed), backoff",
    "redirect-loop": "failing every cycle, FetchError: redirect loop, backoff",
    "moved301": "URL updated to the new address, healthy, every article stored",
    "gone410": "retired after one request, never polled again",
    "huge": "failing every cycle, TooLarge (cap), backoff",
    "reset": "failing every cycle, FetchError (connection dropped), backoff",
    "gzip-bomb": "failing every cycle, TooLarge (cap after decompression), backoff",
    "bad-charset": "Latin-1 bytes in a UTF-8 document: read leniently, healthy, every article stored",
    "no-validators": "healthy, a full 200 every cycle (nothing to revalidate), every article stored",
    "ssrf-link": "healthy, every article kept from the feed (text_source feed), canary never hit",
}
FAILING = {"error500": r"^HTTP 500$", "retry503": r"^HTTP 503$", "slow": r"^FetchError: timeout",
           "html": r"^FeedParseError: not a feed", "redirect-loop": r"^FetchError: redirect loop",
           "huge": r"^TooLarge: ", "reset": r"^FetchError: ", "gzip-bomb": r"^TooLarge: .*decoded"}
LENIENT = {"malformed"}
COMPLETE = {None, "moved301", "no-validators", "ssrf-link", "bad-charset"}   # every truth article must be stored


class Canary:
    """A TCP listener that counts connections: the address monitor must never reach."""

    def __init__(self, host: str = CANARY_HOST):
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(64)
        self.url = f"http://{host}:{self.sock.getsockname()[1]}"
        self.hits = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.hits += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


class LogTrap(logging.Handler):
    """Keeps every record at WARNING or above; flags tracebacks and 'internal error'."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def bad(self) -> list[str]:
        out = []
        for r in self.records:
            msg = r.getMessage()
            if r.exc_info or "internal error" in msg or "Traceback" in msg:
                out.append(f"{r.name}: {msg[:200]}")
        return out


@dataclass
class Check:
    kind: str
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Report:
    feeds: int = 0
    cycles: int = 0
    seconds: list[float] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)      # one per fault kind, for the table
    checks: list[Check] = field(default_factory=list)
    canary_hits: int = 0
    rss_main_mb: float = 0.0
    rss_workers_mb: list[float] = field(default_factory=list)
    pss_total_mb: float = 0.0                            # main + workers at the end, shared pages split
    bad_logs: list[str] = field(default_factory=list)
    warnings: int = 0

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


def drill_config(tmp: Path, feeds: list[str], timeout: float) -> config_mod.Config:
    lines = "\n".join(f"  - url: {u}" for u in feeds)
    text = f"""
state: {{path: {tmp}/monitor.db, digests_dir: {tmp}/digests}}
rules: {{path: {REPO}/tests/e2e_rules}}
fetch:
  allow_private: {json.dumps(list(FARM_ALLOW))}
  first_poll_alert_hours: all       # the farm's items are dated January 2026
  timeout_seconds: {timeout}
  min_interval_minutes: 1
  max_interval_minutes: 360
  extract_workers: 2
channels: [{{name: archive, type: file, schedule: hourly}}]
feeds:
{lines}
"""
    return config_mod.parse(text, str(tmp / "drill.yaml"), base_dir=tmp)


def outlet_of(url: str) -> int:
    m = re.search(r"/feed/(\d+)", url)
    if not m:
        raise ValueError(f"not a farm feed URL: {url}")
    return int(m.group(1))


def _hwm_mb(pid: int | str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _pss_mb(pid: int | str) -> float:
    """Proportional set size now: shared pages (the forkserver's preloaded modules) split between users."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(exclude: set[int]) -> list[int]:
    """This process's descendants (the extraction pool and its forkserver), not the farm."""
    parents: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
                parents[int(d.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    out, todo = [], [os.getpid()]
    while todo:
        p = todo.pop()
        for pid, ppid in parents.items():
            if ppid == p and pid not in exclude:
                out.append(pid)
                todo.append(pid)
    return out


async def run_drill(feeds: int = 1000, items: int = 5, cycles: int = 10, hosts: int = 20,
                    faults: float = 0.1, timeout: float = 5.0, seed: int = 1,
                    workdir: Path | None = None, progress=None) -> Report:
    """Run the drill and return its report (checks included); never raises for a failed check."""
    trap = LogTrap()
    mon = logging.getLogger("monitor")
    level = mon.level
    mon.setLevel(logging.WARNING)       # the trap sees warnings whatever the root logger's level
    mon.addHandler(trap)
    canary = Canary()
    tmp = tempfile.TemporaryDirectory() if workdir is None else None
    work = Path(tmp.name) if tmp else workdir
    try:
        with Farm("--feeds", str(feeds), "--items", str(items), "--faults", str(faults), "--hosts", str(hosts),
                  "--seed", str(seed), "--canary-url", canary.url) as farm:
            cfg = drill_config(work, farm.feed_urls(), timeout)
            report = await _cycles(farm, cfg, cycles, canary, progress)
            report.feeds = feeds
            report.canary_hits = canary.hits
            report.bad_logs = trap.bad()
            report.warnings = len(trap.records)
            _evaluate(report)
            return report
    finally:
        mon.removeHandler(trap)
        mon.setLevel(level)
        canary.close()
        if tmp:
            tmp.cleanup()


async def _cycles(farm: Farm, cfg: config_mod.Config, cycles: int, canary: Canary, progress) -> Report:
    report = Report(cycles=cycles)
    seen_truth: dict[str, dict] = {}                       # every article some cycle could see, by URL
    ok_truth: dict[str, dict] = {}                         # ... and only those seen by an ok poll of its feed
    outcomes: dict[int, list[str]] = defaultdict(list)     # outlet -> status per cycle
    errors: dict[int, list[str]] = defaultdict(list)
    async with open_deps(cfg) as deps:
        for i in range(cycles):
            if i:
                farm.advance(1)
            truth = farm.truth()["articles"]
            summary = await pipeline.poll_cycle(deps, every_feed=True)
            report.seconds.append(summary.seconds)
            ok_outlets = {outlet_of(f.url) for f in summary.feeds if f.status in ("ok", "not-modified")}
            for f in summary.feeds:
                outcomes[outlet_of(f.url)].append(f.status)
                errors[outlet_of(f.url)].append(f.error)
            for a in truth:
                seen_truth[a["url"]] = a
                if a["outlet"] in ok_outlets:
                    ok_truth[a["url"]] = a
            if progress:
                progress(f"cycle {i + 1}/{cycles}: {summary.line()}")
        # A normal cycle right after: feeds in backoff (or asked to wait) must not be polled.
        after = await pipeline.poll_cycle(deps)
        kids = _children({farm.proc.pid})
        report.rss_workers_mb = [_hwm_mb(p) for p in kids]
        report.pss_total_mb = _pss_mb("self") + sum(_pss_mb(p) for p in kids)
        store = deps.store
        feeds_rows = store.feeds()
        # ssrf-link items link off the feed's site: stored held to their feed (`#via=`, dedupe.item_url)
        stored = {urldefrag(r["url"])[0]: r for r in store.rows("SELECT url, feed_url, text_source FROM articles")}
    report.rss_main_mb = _hwm_mb("self") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stats = json.loads(farm.get("/stats.json"))
    report._ctx = {"seen": seen_truth, "ok": ok_truth, "outcomes": outcomes, "errors": errors,  # type: ignore[attr-defined]
                   "feeds": feeds_rows, "stored": stored, "after": after, "stats": stats, "cfg": cfg}
    return report


def _evaluate(report: Report) -> None:
    ctx = report._ctx  # type: ignore[attr-defined]
    by_outlet: dict[int, dict] = {outlet_of(r["moved_from"] or r["url"]): r for r in ctx["feeds"]}
    kinds: dict[str | None, list[int]] = defaultdict(list)
    fault_of: dict[int, str | None] = {}
    for a in ctx["seen"].values():
        fault_of[a["outlet"]] = a["fault"]
    for n in by_outlet:
        kinds[fault_of.get(n)].append(n)
    add = report.checks.append
    missing_kinds = [k for k in EXPECTED if k is not None and not kinds.get(k)]
    add(Check("all", "every fault kind present", not missing_kinds, f"missing: {missing_kinds}" if missing_kinds else ""))
    for kind in sorted(kinds, key=lambda k: (k is not None, k or "")):
        report.rows.append(_check_kind(report, ctx, kind, kinds[kind], by_outlet))
    polled_after = [f for f in ctx["after"].feeds if outlet_of(f.url) in
                    {n for k in FAILING for n in kinds.get(k, [])}]
    add(Check("all", "backoff respected: no failing feed polled by a normal cycle right after",
              not polled_after, ", ".join(f.url for f in polled_after[:5])))
    add(Check("ssrf-link", "canary connections == 0", report.canary_hits == 0, f"{report.canary_hits} hits"))
    add(Check("all", "no internal error or traceback logged", not report.bad_logs, "; ".join(report.bad_logs[:3])))
    internal = [e for errs in ctx["errors"].values() for e in errs if "internal error" in e]
    add(Check("all", "no feed failed with 'internal error'", not internal, "; ".join(internal[:3])))
    add(Check("all", f"peak RSS of the daemon process < {RSS_LIMIT_MB:.0f} MB", report.rss_main_mb < RSS_LIMIT_MB,
              f"{report.rss_main_mb:.0f} MB"))
    worst = max(report.rss_workers_mb, default=0.0)
    add(Check("all", f"peak RSS of each extraction worker < {RSS_LIMIT_MB:.0f} MB", worst < RSS_LIMIT_MB,
              f"largest {worst:.0f} MB"))


def _check_kind(report: Report, ctx: dict, kind: str | None, outlets: list[int], by_outlet: dict) -> dict:
    cycles = report.cycles
    label = kind or "healthy"
    add = report.checks.append
    rows = [by_outlet[n] for n in outlets]
    arts = [a for a in ctx["seen"].values() if a["outlet"] in set(outlets)]
    stored = [a for a in arts if a["url"] in ctx["stored"]]
    ok_arts = [a for a in ctx["ok"].values() if a["outlet"] in set(outlets)]
    ok_missing = [a["url"] for a in ok_arts if a["url"] not in ctx["stored"]]
    statuses = [s for n in outlets for s in ctx["outcomes"][n]]
    last_errors = sorted({(r["last_error"] or "")[:72] for r in rows if r["last_error"]})
    row = {"kind": label, "feeds": len(outlets), "articles": len(arts), "stored": len(stored),
           "ok": statuses.count("ok"), "304": statuses.count("not-modified"), "failed": statuses.count("failed"),
           "retired": statuses.count("retired"), "state": _state_summary(rows), "error": last_errors[0] if last_errors else ""}
    if kind in COMPLETE:
        add(Check(label, "every truth article stored (canonical URL)", not (set(a["url"] for a in arts) - set(ctx["stored"])),
                  f"{len(stored)}/{len(arts)}"))
        add(Check(label, "active, no errors", all(r["state"] == "active" and r["error_count"] == 0 for r in rows),
                  row["state"]))
    if kind is None:
        pages = [a for a in stored if ctx["stored"][a["url"]]["text_source"] == "page"]
        row["full_text"] = f"{len(pages)}/{len(stored)}"
        add(Check(label, "full text extracted for >= 99% of articles", len(pages) >= 0.99 * max(1, len(stored)),
                  row["full_text"]))
    if kind in FAILING:
        _check_failing(report, ctx, kind, rows)
    if kind == "flaky":
        add(Check(label, "never two failures in a row", all(r["error_count"] <= 1 and r["last_success"] for r in rows),
                  row["state"]))
        want_ok = (cycles + 1) // 2
        add(Check(label, "every odd request ok", all(ctx["outcomes"][n].count("failed") == cycles // 2 for n in outlets),
                  f"{row['ok'] + row['304']} ok of {len(outlets) * cycles}, want {want_ok} per feed"))
        add(Check(label, "every article seen by an ok poll stored", not ok_missing, f"{len(ok_missing)} missing"))
    if kind in LENIENT:
        # a truncated document loses the entries past the cut: coverage is reported, not required
        bad = [r["last_error"] for r in rows if r["last_error"] and not r["last_error"].startswith("FeedParseError")]
        add(Check(label, "ok or FeedParseError, nothing else", not bad, "; ".join(bad[:2])))
    if kind == "gone410":
        add(Check(label, "retired, polled exactly once",
                  all(r["state"] == "retired" and r["last_status"] == 410 for r in rows)
                  and ctx["stats"].get("feed gone410", 0) == len(rows),
                  f"{ctx['stats'].get('feed gone410', 0)} requests for {len(rows)} feeds"))
    if kind == "moved301":
        add(Check(label, "URL updated to the new address",
                  all(r["url"].endswith("?moved=1") and r["moved_from"] and "?" not in r["moved_from"] for r in rows),
                  ", ".join(r["url"] for r in rows[:2])))
    if kind == "no-validators":
        add(Check(label, "a full 200 every cycle", row["ok"] == len(outlets) * cycles, f"{row['ok']} ok, {row['304']} 304"))
    if kind == "ssrf-link":
        sources = {ctx["stored"][a["url"]]["text_source"] for a in stored}
        add(Check(label, "articles kept from the feed (text_source feed)", sources == {"feed"}, str(sorted(sources))))
    return row


def _check_failing(report: Report, ctx: dict, kind: str, rows: list[dict]) -> None:
    cfg = ctx["cfg"].fetch
    wrong, early = [], []
    for r in rows:
        if r["state"] != "active" or r["error_count"] != report.cycles or r["last_success"] \
                or not re.search(FAILING[kind], r["last_error"] or ""):
            wrong.append(f"{r['url']}: {r['state']} {r['error_count']}x {r['last_error']!r}")
        wait = (parse_iso(r["next_poll"]) - parse_iso(r["last_poll"])).total_seconds()
        ceiling = polling.backoff_minutes(r["error_count"], cfg) * 60
        floor = max(ceiling / 2, RETRY_AFTER if kind == "retry503" else 0)
        if not floor - 1 <= wait <= max(ceiling, floor) + 1:
            early.append(f"{r['url']}: next attempt in {wait:.0f}s, want {floor:.0f}..{max(ceiling, floor):.0f}")
    report.checks.append(Check(kind, f"failing every cycle with {FAILING[kind]}", not wrong, "; ".join(wrong[:2])))
    report.checks.append(Check(kind, "next attempt within backoff" + (" and >= Retry-After" if kind == "retry503" else ""),
                               not early, "; ".join(early[:2])))


def _state_summary(rows: list[dict]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        counts[r["state"] if r["state"] != "active" else ("failing" if r["error_count"] else "active")] += 1
    return ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))


def table(report: Report) -> str:
    cols = ["kind", "feeds", "articles", "stored", "ok", "304", "failed", "retired", "state", "error"]
    rows = [[str(r.get(c, "")) for c in cols] for r in report.rows]
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*cols), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r) for r in rows]
    return "\n".join(line.rstrip() for line in out)


def print_report(report: Report) -> None:
    print(table(report))
    healthy = next((r for r in report.rows if r["kind"] == "healthy"), {})
    print(f"\ncycles: {report.cycles}, seconds per cycle: {', '.join(f'{s:.1f}' for s in report.seconds)}")
    print(f"healthy outlets: {healthy.get('stored')}/{healthy.get('articles')} truth articles stored, "
          f"full text for {healthy.get('full_text')}")
    print(f"canary connections: {report.canary_hits}")
    print(f"peak RSS: main {report.rss_main_mb:.0f} MB, extraction workers "
          f"{' + '.join(f'{m:.0f}' for m in report.rss_workers_mb) or '0'} MB "
          f"(limit {RSS_LIMIT_MB:.0f} MB each); all together at the end, shared pages counted once "
          f"(PSS): {report.pss_total_mb:.0f} MB")
    print(f"log records at WARNING+: {report.warnings}; internal errors/tracebacks: {len(report.bad_logs)}")
    print()
    for c in report.checks:
        print(f"{'PASS' if c.ok else 'FAIL'}  {c.kind:<14} {c.name}" + (f"  [{c.detail}]" if c.detail else ""))
    print(f"\n{'all checks passed' if report.ok else f'{len(report.failures())} check(s) FAILED'}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--feeds", type=int, default=1000)
    p.add_argument("--items", type=int, default=5)
    p.add_argument("--cycles", type=int, default=10)
    p.add_argument("--hosts", type=int, default=20)
    p.add_argument("--faults", type=float, default=0.1)
    p.add_argument("--timeout", type=float, default=5.0, help="fetch.timeout_seconds (the slow feeds take 30 s)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().handlers[0].setLevel(logging.ERROR)   # the drill's own trap counts warnings
    started = time.monotonic()
    report = asyncio.run(run_drill(args.feeds, args.items, args.cycles, args.hosts, args.faults, args.timeout,
                                   args.seed, progress=lambda s: print(s, flush=True)))
    print(f"\nfault drill: {args.feeds} feeds, --faults {args.faults}, --items {args.items}, "
          f"--hosts {args.hosts}, {args.cycles} cycles, {time.monotonic() - started:.0f} s wall\n")
    print_report(report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

