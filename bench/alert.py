"""Time to alert: from the fetch that saw a new matching item to the webhook receiving it.

Runs the real daemon (`monitor run`, JSON logs at debug level) against the feed farm with
full text on (each new item's page fetched and extracted in the worker pool), one rule
over the farm's planted topics ("Alder Crest", "Halvorsen", "Quillmoor") and one
`immediate` webhook channel (format json, unpaced) posting to a receiver on 127.0.0.1;
`digest.immediate_per_rule_per_hour` is set high enough never to hold an alert back.
Every feed is polled each minute (`interval_minutes: 1`). After the first polls (the
backlog, recorded as seen, `first_poll_alert_hours: 0`), the bench publishes new rounds
with `POST /advance` and, for every item the webhook receives, takes:

- the fetch: the daemon's `feed_fetched` debug event of that item's feed (the farm's
  /truth.json says which feed carries it) that came first after the round was published:
  the poll that saw the item (its `fetched` field, microseconds, is when the feed's
  response was complete);
- the arrival: when the receiver had read the POST (this process's clock, the same host).

Prints p50, p95 and max over all alerted items, and how many matching items were not alerted.

    .venv/bin/python bench/alert.py                       # 100 feeds, 4 rounds a minute apart
    .venv/bin/python bench/alert.py --feeds 300 --rounds 6 --latency-ms 150
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOPICS = ("marker-alpha", "marker-beta", "marker-gamma")
RULE = """rules:
  - id: planted
    title: Planted topics
    priority: high
    query: '"Alder Crest" OR Halvorsen OR Quillmoor'
"""


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.got: list[tuple[float, dict]] = []
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        at = time.time()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        try:
            doc = json.loads(body)
        except ValueError:
            doc = {}
        server: Receiver = self.server  # type: ignore[assignment]
        with server.lock:
            server.got.append((at, doc))

    def log_message(self, *args) -> None:
        pass

sys.path.insert(0, str(Path(__file__).resolve().parent))
from farmproc import start_farm  # noqa: E402


def write_config(tmp: Path, urls: list[str], hook: str) -> Path:
    (tmp / "rules").mkdir()
    (tmp / "rules" / "planted.yaml").write_text(RULE, encoding="utf-8")
    feeds = "\n".join(f"  - {{url: '{u}', interval_minutes: 1}}" for u in urls)
    cfg = tmp / "monitor.yaml"
    cfg.write_text(f"""state: {{path: {tmp}/state/monitor.db, digests_dir: {tmp}/state/digests}}
rules: {{path: {tmp}/rules}}
fetch: {{allow_private: ["127.0.0.1/32", "127.0.1.0/24"], full_text: true,
         first_poll_alert_hours: 0, min_interval_minutes: 1, default_interval_minutes: 1, max_interval_minutes: 1,
         check_interval_seconds: 5}}
digest: {{immediate_per_rule_per_hour: 100000}}
logging: {{format: json}}
channels:
  - {{name: hook, type: webhook, url: '{hook}', format: json, schedule: immediate}}
default_channels: [hook]
feeds:
{feeds}
""", encoding="utf-8")
    return cfg


def fetch_events(log: Path) -> dict[str, list[float]]:
    """feed URL -> the times of its fetches that saw new items (sorted)."""
    out: dict[str, list[float]] = {}
    for line in log.read_text(errors="replace").splitlines():
        if '"feed_fetched"' not in line:
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        out.setdefault(doc["feed"], []).append(datetime.fromisoformat(doc["fetched"]).timestamp())
    for times in out.values():
        times.sort()
    return out


def rank(values: list[float], pct: float) -> float:
    """The nearest-rank percentile: a value that was measured, never an interpolation."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def post(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=60).read()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feeds", type=int, default=100)
    ap.add_argument("--items", type=int, default=20)
    ap.add_argument("--hosts", type=int, default=20)
    ap.add_argument("--latency-ms", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=4, help="POST /advance rounds, one a minute")
    ap.add_argument("--settle", type=float, default=75.0, help="seconds to wait after the last round")
    args = ap.parse_args()
    exe = REPO / ".venv" / "bin" / "monitor"
    tmp = Path(tempfile.mkdtemp(prefix="bench-alert-"))
    farm, base = start_farm(args, tmp / "farm.url")
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    daemon = None
    try:
        urls = urllib.request.urlopen(base + "/feeds.txt").read().decode().split()
        cfg = write_config(tmp, urls, f"http://127.0.0.1:{receiver.server_address[1]}/hook")
        log = tmp / "daemon.log"
        env = {**os.environ, "MONITOR_CONFIG": str(cfg)}
        with log.open("w") as out:
            daemon = subprocess.Popen([str(exe), "run", "-v"], stdout=out, stderr=subprocess.STDOUT, env=env,
                                      stdin=subprocess.DEVNULL)
        # the first poll of every feed records its backlog; wait until each feed was seen once
        deadline = time.time() + 300
        while len(fetch_events(log)) < len(urls) and time.time() < deadline:
            if daemon.poll() is not None:
                sys.exit(f"bench: the daemon exited: {log.read_text()[-2000:]}")
            time.sleep(1)
        print(f"bench: first polls done ({len(fetch_events(log))} feeds); publishing {args.rounds} rounds",
              flush=True)
        known = {a["url"] for a in json.loads(urllib.request.urlopen(base + "/truth.json").read())["articles"]}
        rounds: list[float] = []
        for r in range(args.rounds):
            rounds.append(time.time())
            post(f"{base}/advance?steps=1")
            print(f"  round {r + 1} published", flush=True)
            time.sleep(60)
        time.sleep(max(0.0, args.settle - 60))
    finally:
        if daemon is not None:
            daemon.terminate()
            try:
                daemon.wait(60)
            except subprocess.TimeoutExpired:
                daemon.kill()
        receiver.shutdown()
    truth = json.loads(urllib.request.urlopen(base + "/truth.json").read())["articles"]
    farm.terminate()
    farm.wait(10)
    new = [a for a in truth if a["url"] not in known]
    wanted = {a["url"]: a for a in new if set(a.get("topics") or ()) & set(TOPICS)}
    fetches = fetch_events(log)
    delays, alerted = [], set()
    for at, doc in receiver.got:
        for item in doc.get("items", []):
            url = item.get("url")
            a = wanted.get(url)
            if a is None or url in alerted:
                continue
            published = max(t for t in rounds if t <= at)
            seen = [t for t in fetches.get(a["feed"], []) if published <= t <= at]
            if not seen:
                continue
            alerted.add(url)
            delays.append(at - seen[0])
    print(f"\n{args.feeds} feeds x {args.items} items, {args.hosts} hosts, {args.latency_ms} ms latency, "
          f"full text on, {args.rounds} rounds: {len(new)} new items, {len(wanted)} matching the rule")
    print(f"webhook posts: {len(receiver.got)}, matching items alerted: {len(alerted)} of {len(wanted)}")
    if delays:
        print(f"time from the fetch that saw the item to the webhook: p50 {rank(delays, 50):.2f} s, "
              f"p95 {rank(delays, 95):.2f} s, max {max(delays):.2f} s (n={len(delays)}; nearest-rank percentiles)")
        print("each, seconds:", " ".join(f"{d:.2f}" for d in sorted(delays)))
    print("(a later copy of a story already alerted on the channel, or related coverage of it, is stored and\n"
          " queued for the channel's next digest, not alerted again: by design, docs/delivery.md)")
    print(f"(daemon log: {log})")


if __name__ == "__main__":
    main()
