"""Polling benchmark: the real command, `monitor poll --once --all`, beside rss2email in the same run.

Starts the feed farm (default 1,000 feeds x 30 items on 100 hosts, 150 ms latency), writes
a config that is the SHIPPED config/monitor.yaml with only what a farm run must change
(the farm's feeds instead of the example ones, state in a temporary folder, the farm's
loopback addresses allowed, `first_poll_alert_hours: all` so every item of the first poll
is an article, full text off unless --full-text) and the shipped rules/ folder, then times
each command as a whole process: wall clock from just before exec to its exit, start-up,
config, rule compiling, worker pool and shutdown included.

- monitor cold: a fresh state folder, every item new; warm: the same state again, every
  feed answers 304 (the farm does not publish between runs);
- rss2email 3.14 (`r2e run --no-send`), installed from PyPI into a throwaway virtual
  environment (default /tmp/bench-r2e-venv, reused when present), one feed after another
  as it works; cold: a fresh data file, warm: the same data file again (its own
  ETag/Last-Modified requests).

CPU is user + system of the command and of the descendants it waited for (the kernel's
accounting of a reaped child; a worker that exits after its parent is not counted);
peak RSS is the largest single process of those. "cycle s" is the command's own report
of its cycle (the summary line): the rest of the wall time is start-up and shutdown.
"articles/s" is the articles the command stored over its whole wall time (with --full-text:
pages fetched and extracted, counted from the command's own start).

    .venv/bin/python bench/poll.py                   # 1 monitor run of each kind, rss2email once each
    .venv/bin/python bench/poll.py --repeat 3        # monitor 3 times each (median quoted), r2e once
    .venv/bin/python bench/poll.py --no-r2e          # monitor only
    .venv/bin/python bench/poll.py --full-text --feeds 300   # pages fetched and extracted too
    .venv/bin/python bench/poll.py --repeat 3 --code base=/work/wt-base --code new=.   # A/B, same run

bench/poll_inprocess.py keeps the in-process figures (the fetcher and `poll_cycle` inside
one Python process, without start-up).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
ALLOW = ["127.0.0.1/32", "127.0.1.0/24"]
R2E_VERSION = "3.14"

sys.path.insert(0, str(Path(__file__).resolve().parent))
from farmproc import start_farm  # noqa: E402


def monitor_config(urls: list[str], state: Path, full_text: bool) -> Path:
    """The shipped config with the farm's feeds and a temporary state; everything else as shipped."""
    cfg = yaml.safe_load((REPO / "config" / "monitor.yaml").read_text())
    cfg["state"] = {**cfg.get("state", {}), "path": str(state / "monitor.db"), "digests_dir": str(state / "digests")}
    cfg["rules"] = {**cfg.get("rules", {}), "path": str(REPO / "rules")}
    cfg["fetch"] = {**cfg.get("fetch", {}), "allow_private": ALLOW, "first_poll_alert_hours": "all",
                    "full_text": full_text}
    cfg.pop("http", None)       # poll --once serves nothing; no port to collide with
    cfg["feeds"] = [{"url": u} for u in urls]
    path = state / "monitor.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def r2e_venv(where: Path) -> Path:
    """rss2email from PyPI in its own virtual environment (created once, outside the repo)."""
    r2e = where / "bin" / "r2e"
    if not r2e.exists():
        print(f"bench: installing rss2email {R2E_VERSION} into {where}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
        subprocess.run([str(where / "bin" / "pip"), "install", "-q", f"rss2email=={R2E_VERSION}"], check=True)
    out = subprocess.run([str(r2e), "--version"], capture_output=True, text=True)
    print(f"bench: {(out.stdout or out.stderr).strip()}", flush=True)
    return r2e


def r2e_config(urls: list[str], folder: Path, r2e: Path) -> tuple[Path, Path]:
    cfg, data = folder / "r2e.cfg", folder / "r2e.json"
    subprocess.run([str(r2e), "-c", str(cfg), "-d", str(data), "new", "bench@example.invalid"],
                   check=True, capture_output=True)
    with cfg.open("a") as f:
        for i, u in enumerate(urls):
            f.write(f"\n[feed.f{i:05d}]\nurl = {u}\n")
    return cfg, data


def timed(cmd: list[str], log: Path, env: dict | None = None, cwd: Path | None = None) -> dict:
    """Run one command as a whole process: wall clock from exec to exit, rusage of it and its reaped children."""
    with log.open("w") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                cwd=cwd)
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "rss": ru.ru_maxrss / 1024, "rc": proc.returncode,
            "log": log}


def monitor_result(r: dict) -> str:
    text = r["log"].read_text(errors="replace")
    m = re.search(r"^poll: .*? in ([\d.]+)s$", text, re.M)
    r["cycle"] = float(m.group(1)) if m else float("nan")
    n = re.search(r" (\d+) articles,", m.group(0)) if m else None
    r["articles"] = int(n.group(1)) if n else 0
    line = m.group(0) if m else f"no summary line (exit {r['rc']}): {text[-300:]!r}"
    return line.removeprefix("poll: ")


def r2e_result(r: dict, data: Path) -> str:
    text = r["log"].read_text(errors="replace")
    failed = {m.group(1) for m in re.finditer(r"\[ERROR\].*?: (f\d{5}) \(", text)}
    seen = 0
    try:
        feeds = json.loads(data.read_text()).get("feeds", [])
        seen = sum(len(f.get("seen", {})) for f in feeds)
    except (OSError, ValueError):
        pass
    r["cycle"] = float("nan")
    r["articles"] = 0
    return f"exit {r['rc']}, {len(failed)} feeds with errors, {seen} entries seen in its data file"


def run_monitor(args, urls: list[str], tmp: Path, rows: list) -> None:
    exe = REPO / ".venv" / "bin" / "monitor"
    codes = [(label, Path(d).resolve()) for label, _, d in (c.partition("=") for c in args.code)] or [("", None)]
    for i in range(args.repeat):
        for label, code in codes:       # interleaved: each checkout meets the same machine load
            tag = f" [{label}]" if label else ""
            state = tmp / f"monitor-{label or 'x'}-{i}"
            state.mkdir()
            cfg = monitor_config(urls, state, args.full_text)
            # this venv's dependencies, that checkout's `monitor` (PYTHONPATH comes before the
            # editable install's finder; the workers inherit it). Run from the state folder: the
            # pool's forkserver starts with `python -c`, which puts the working directory first
            # on its path, so a run from a checkout would give every worker that checkout's code
            env = {**os.environ, "PYTHONPATH": str(code)} if code is not None else None
            for kind in ("cold", "warm"):
                r = timed([str(exe), "--config", str(cfg), "poll", "--once", "--all"], state / f"{kind}.log", env,
                          cwd=state)
                rows.append((f"monitor {kind}{tag}", r, monitor_result(r)))
                print(f"  monitor {kind}{tag} #{i + 1}: {r['wall']:.2f} s  {rows[-1][2]}", flush=True)


def run_r2e(args, urls: list[str], tmp: Path, rows: list) -> None:
    r2e = r2e_venv(Path(args.r2e_venv))
    folder = tmp / "r2e"
    folder.mkdir()
    cfg, data = r2e_config(urls, folder, r2e)
    for kind in ("cold", "warm"):
        r = timed([str(r2e), "-c", str(cfg), "-d", str(data), "run", "--no-send"], folder / f"{kind}.log")
        rows.append((f"rss2email {kind}", r, r2e_result(r, data)))
        print(f"  rss2email {kind}: {r['wall']:.2f} s  {rows[-1][2]}", flush=True)


def report(args, rows: list) -> None:
    print(f"\nfarm: {args.feeds} feeds x {args.items} items, {args.hosts} hosts, {args.latency_ms} ms latency, "
          f"full text {'on' if args.full_text else 'off'}; whole processes, wall clock from exec to exit")
    print(f"{'run':16} {'runs':>4} {'wall s (median)':>16} {'min-max':>14} {'cycle s':>8} {'cpu s':>7} "
          f"{'peak RSS MB':>12} {'articles/s':>10}  result")
    med: dict[str, float] = {}
    for label in dict.fromkeys(r[0] for r in rows):
        got = [r for r in rows if r[0] == label]
        walls = [g[1]["wall"] for g in got]
        med[label] = statistics.median(walls)
        mid = sorted(got, key=lambda g: g[1]["wall"])[len(got) // 2][1]
        print(f"{label:16} {len(got):4d} {med[label]:16.2f} {min(walls):6.2f}-{max(walls):<7.2f} "
              f"{statistics.median(g[1]['cycle'] for g in got):8.2f} {mid['cpu']:7.2f} {mid['rss']:12.0f} "
              f"{mid['articles'] / mid['wall']:10.1f}  "
              f"{got[-1][2]}")
    for kind in ("cold", "warm"):
        for label in [m for m in med if m.startswith(f"monitor {kind}")]:
            if f"rss2email {kind}" in med:
                print(f"ratio {kind}{label.removeprefix(f'monitor {kind}')}: rss2email / monitor = "
                      f"{med[f'rss2email {kind}'] / med[label]:.1f}x (wall, medians)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--items", type=int, default=30)
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--latency-ms", type=int, default=150)
    ap.add_argument("--repeat", type=int, default=1, help="monitor cold+warm pairs, each on a fresh state")
    ap.add_argument("--full-text", action="store_true", help="fetch and extract every article's page too")
    ap.add_argument("--no-r2e", action="store_true", help="skip rss2email")
    ap.add_argument("--r2e-venv", default="/tmp/bench-r2e-venv", help="where rss2email is installed (not the repo)")
    ap.add_argument("--code", action="append", default=[], metavar="LABEL=DIR",
                    help="run monitor from this checkout (repeatable: an A/B in one run, interleaved)")
    args = ap.parse_args()
    if not (REPO / ".venv" / "bin" / "monitor").exists():
        sys.exit("bench: run `make .venv/.installed` first (the bench runs .venv/bin/monitor)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-poll-"))
    proc, base = start_farm(args, tmp / "farm.url")
    rows: list = []
    try:
        urls = urllib.request.urlopen(base + "/feeds.txt").read().decode().split()
        run_monitor(args, urls, tmp, rows)
        if not args.no_r2e:
            run_r2e(args, urls, tmp, rows)
    finally:
        proc.terminate()
        proc.wait(10)
    report(args, rows)
    print(f"(logs in {tmp})")


if __name__ == "__main__":
    main()
