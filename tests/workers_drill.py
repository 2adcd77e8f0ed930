"""The multi-worker drill: one farm run through N `monitor run` processes, and what they left behind.

Shared by tests/test_workers_farm.py and bench/scale.py. A `State` is where the workers keep
their state: an SQLite file (one daemon) or a PostgreSQL database of the drill's own
(`CREATE DATABASE`, dropped afterwards, so concurrent test runs on the shared server never
meet). `Drill` writes one config per worker (as on separate machines), starts and SIGKILLs
`monitor run --worker-id wN` processes, makes every feed due again between rounds, waits
until everything due was polled and everything queued was delivered, and reads the outcome:
the stored articles, the partition of articles into stories, the (article, rule, channel)
triples delivered (from a webhook receiver on 127.0.0.1, counted per Idempotency-Key) and
the farm's requests per feed.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from tests.receivers import WebhookReceiver

REPO = Path(__file__).resolve().parents[1]
PG_SERVER = os.environ.get("MONITOR_TEST_PG_SERVER", "postgresql://postgres@127.0.0.1:5432")


class State:
    """An SQLite file, or a PostgreSQL database created for this drill only."""

    def __init__(self, kind: str, tmp: Path):
        self.kind, self.tmp = kind, tmp
        self.db = f"monitor_drill_{uuid.uuid4().hex[:10]}"
        self.path = tmp / "state" / "monitor.db"

    def __enter__(self) -> State:
        if self.kind == "postgresql":
            import psycopg
            with psycopg.connect(f"{PG_SERVER}/test", autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.db}"')
        return self

    def __exit__(self, *exc) -> None:
        if self.kind == "postgresql":
            import psycopg
            with psycopg.connect(f"{PG_SERVER}/test", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')

    @property
    def url(self) -> str:
        return f"{PG_SERVER}/{self.db}"

    def config_line(self) -> str:
        if self.kind == "postgresql":
            return f"state: {{url: '{self.url}', digests_dir: {self.tmp}/state/digests}}"
        return f"state: {{path: {self.path}, digests_dir: {self.tmp}/state/digests}}"

    def query(self, sql: str) -> list[tuple]:
        """Read-only SQL in the state (None when it does not exist yet)."""
        if self.kind == "postgresql":
            import psycopg
            try:
                with psycopg.connect(self.url, autocommit=True) as conn:
                    return list(conn.execute(sql).fetchall())
            except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn):
                return []
        if not self.path.exists():
            return []
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            return conn.execute(sql).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such" in str(exc):      # not migrated yet
                return []
            raise
        finally:
            conn.close()

    def write(self, sql: str) -> None:
        if self.kind == "postgresql":
            import psycopg
            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute(sql)
            return
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            conn.execute(sql)
            conn.commit()
        finally:
            conn.close()


def _header(headers: dict[str, str], name: str) -> str:
    """A header's value by its case-insensitive name, or ''."""
    return next((v for k, v in headers.items() if k.lower() == name.lower()), "")


class Hook(WebhookReceiver):
    """The shared webhook receiver, read as the drill needs it: keys, bodies and resends."""

    @property
    def received(self) -> list[tuple[str, dict]]:
        """Every accepted POST as (Idempotency-Key, JSON body), in arrival order."""
        return [(_header(r.headers, "Idempotency-Key"), r.json()) for r in self.requests]

    def triples(self) -> set[tuple[str, str, str]]:
        """(article, rule, channel) of every message, counted once per idempotency key."""
        return {(item["url"], rule, doc["channel"]) for _, doc in self.received
                for item in doc.get("items", []) for rule in item["rules"]}

    def resends(self) -> int:
        """Messages received again under a key already received (the send-then-crash window)."""
        return sum(n - 1 for n in Counter(k for k, _ in self.received).values())


def write_config(tmp: Path, name: str, state: State, feeds: list[str], hook: str, *, full_text: bool = False,
                 lease: float = 6.0, fetch: str = "", extract_workers: int = 1, extra: str = "") -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    cfg = tmp / f"{name}.yaml"
    feed_lines = "\n".join(f"  - url: {u}" for u in feeds)
    cfg.write_text(f"""{state.config_line()}
rules: {{path: {REPO / 'tests' / 'e2e_rules'}}}
fetch: {{allow_private: ["127.0.1.0/24", "127.0.0.1/32"], respect_robots: false, check_interval_seconds: 1,
         extract_workers: {extract_workers}, first_poll_alert_hours: all, full_text: {str(full_text).lower()}{fetch}}}
digest: {{max_items: 1000, immediate_per_rule_per_hour: 100000}}
channels:
  - {{name: hook, type: webhook, url: '{hook}', format: json, schedule: immediate, messages_per_second: 100}}
default_channels: [hook]
workers: {{lease_seconds: {lease:g}, heartbeat_seconds: {max(0.5, lease / 6):g}}}
shutdown_grace_seconds: 5
{extra}
feeds:
{feed_lines}
""")
    return cfg


class Drill:
    """Worker processes on one state; see the module docstring."""

    def __init__(self, tmp: Path, state: State, feeds: list[str], hook: Hook, **config: Any):
        self.tmp, self.state, self.feeds, self.hook, self.config = tmp, state, feeds, hook, config
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}

    def start(self, name: str) -> subprocess.Popen:
        cfg = write_config(self.tmp, name, self.state, self.feeds, self.hook.url, **self.config)
        log = self.tmp / f"{name}.log"
        self.logs[name] = log
        with log.open("ab") as out:
            proc = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(cfg), "run",
                                     "--worker-id", name], cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        self.procs[name] = proc
        return proc

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        for name, proc in list(self.procs.items()):
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            self.procs.pop(name)

    def alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"worker {name} exited with {proc.returncode}: "
                                     f"{self.logs[name].read_text()[-3000:]}")

    # -- rounds --------------------------------------------------------------------------
    def done(self) -> bool:
        """Every active feed polled since it was made due, and nothing left to deliver."""
        rows = self.progress()
        if not rows:
            return False
        unpolled, feeds, pending, undelivered, claimed = rows[0]
        return feeds >= len(self.feeds) and unpolled == 0 and undelivered == 0 and claimed == 0

    def progress(self) -> list[tuple]:
        """(feeds due and unpolled, feeds, outbox pending, deliveries pending, feeds leased)"""
        return self.state.query(
            "SELECT (SELECT count(*) FROM feeds WHERE state = 'active' AND next_poll = ''), "
            "(SELECT count(*) FROM feeds), (SELECT count(*) FROM outbox WHERE status = 'pending'), "
            "(SELECT count(*) FROM deliveries WHERE status = 'pending'), "
            f"(SELECT count(*) FROM feeds WHERE claimed_by IS NOT NULL AND lease_until >= {time.time():.3f})")

    def wait_done(self, timeout: float = 120.0, settle: float = 2.5) -> float:
        """Until done and the outbox stands still for `settle` seconds (the delivery jobs look every
        second; what stays pending is related coverage held for the hourly flush, see `flush`)."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            self.alive()
            if self.done():
                before = self.progress()
                time.sleep(settle)
                if self.done() and self.progress() == before:
                    return time.monotonic() - t0
            time.sleep(0.3)
        logs = "\n".join(f"--- {n}\n{p.read_text()[-1500:]}" for n, p in self.logs.items())
        raise AssertionError(f"not done after {timeout:.0f}s: (unpolled, feeds, outbox pending, deliveries pending, "
                             f"leased) = {self.progress()}\n{logs}")

    def flush(self) -> None:
        """After the workers stopped: send what waits for the next digest (`monitor digest --send`)."""
        cfg = write_config(self.tmp, "flush", self.state, self.feeds, self.hook.url, **self.config)
        out = subprocess.run([sys.executable, "-m", "monitor", "--config", str(cfg), "digest", "--send"],
                             cwd=REPO, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-3000:]

    def all_due(self) -> None:
        """As if every feed's interval had passed (also those backing off after a failure)."""
        self.state.write("UPDATE feeds SET next_poll = '' WHERE state = 'active'")

    # -- outcome ---------------------------------------------------------------------------
    def articles(self) -> set[str]:
        return {u for (u,) in self.state.query("SELECT url FROM articles")}

    def stories(self) -> set[frozenset[str]]:
        groups: dict[int, set[str]] = {}
        for url, story in self.state.query("SELECT url, COALESCE(story_id, id) FROM articles"):
            groups.setdefault(story, set()).add(url)
        return {frozenset(g) for g in groups.values()}

    def leases_of(self, worker: str) -> list[tuple]:
        """Feeds still due that `worker` has claimed (live or run-out lease): its unfinished polls.

        Only active feeds: a feed retired by a 410 (or left behind by a 301) keeps its empty
        next poll time, and its lease until the worker gives leases back with its next claim; a
        worker killed in between leaves it claimed, but nothing is left to poll there (seen once
        in CI: a 24 s "recovery" of a poll that had finished)."""
        return self.state.query(f"SELECT url FROM feeds WHERE claimed_by = '{worker}' AND state = 'active' "
                                "AND next_poll = ''")


def feed_requests(farm: Any) -> Counter[str]:
    """The farm's count of requests per outlet's feed."""
    with urllib.request.urlopen(farm.url + "/stats.json?per_feed=1", timeout=30) as r:
        return Counter(json.loads(r.read())["feed_requests"])
