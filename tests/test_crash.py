"""Crash safety: `monitor run` killed with SIGKILL at random moments ends where an uninterrupted run ends.

The drill (`crash_drill`) runs the daemon against a feed farm and a real SMTP server on
127.0.0.1, kills it with SIGKILL after a seeded random delay (or from inside the SMTP
server, right after it stored a message and before the daemon hears "250", the one window
where a resend is allowed), checks `PRAGMA integrity_check`, restarts it, and advances the
farm whenever the current farm state has been fully polled. It then runs to completion
with `poll --once --all` and `digest --send`. The reference is a second farm with the same
seed and the same steps, polled and delivered by the CLI without interruption.

Compared: the stored article URLs, and per (rule, story) how many times it was delivered,
counting messages once per Message-ID (stable per delivery, so a resend is recognisable).
`bench/crash.py` runs the 20-kill drill and prints its numbers.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from email import message_from_bytes, policy
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import free_port
from tests.farm import Farm, email_channel
from tests.farm import write_config as farm_config

REPO = Path(__file__).resolve().parents[1]
RULE_TITLES = {"Operation Alder Crest": "alder-crest", "The Halvorsen Accord": "halvorsen",
               "Project Quillmoor": "quillmoor"}


class KillingMailbox:
    """An aiosmtpd handler that keeps every message and can SIGKILL the sender mid-delivery."""

    def __init__(self):
        self.messages: list = []
        self.kill_pid: int | None = None
        self.kill_at = 0

    def arm(self, pid: int, after: int) -> None:
        self.kill_pid, self.kill_at = pid, len(self.messages) + after

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.1)                # a server that takes its time widens the window
        msg = message_from_bytes(envelope.original_content, policy=policy.default)
        new = all(m["Message-ID"] != msg["Message-ID"] for m in self.messages)
        self.messages.append(msg)
        # only on a first send: a resend would strand the same delivery again and again
        if self.kill_pid and new and len(self.messages) >= self.kill_at:
            # The message is stored here, but the daemon dies before it hears 250: it must resend it.
            os.kill(self.kill_pid, signal.SIGKILL)
            self.kill_pid = None
        return "250 OK"


class Smtp:
    def __init__(self):
        self.mailbox = KillingMailbox()
        self.port = free_port()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> Smtp:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


def write_config(tmp: Path, feeds: list[str], smtp_port: int) -> Path:
    return farm_config(tmp, feeds, rules=REPO / "tests" / "e2e_rules",
                       fetch="respect_robots: false, check_interval_seconds: 1, extract_workers: 1",
                       digest="max_items: 1000, immediate_per_rule_per_hour: 100000",
                       channels=email_channel(smtp_port, "immediate"), extra="default_channels: [desk]")


def cli(cfg: Path, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "monitor", "--config", str(cfg), *args],
                         capture_output=True, text=True, cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def db_rows(db: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def state_done(db: Path) -> bool:
    """Every feed polled since the last advance, and nothing left to send."""
    if not db.exists() or not db_rows(db, "SELECT name FROM sqlite_master WHERE name = 'feeds'"):
        return False
    [(unpolled, pending, undelivered)] = db_rows(
        db, "SELECT (SELECT count(*) FROM feeds WHERE next_poll = ''), "
            "(SELECT count(*) FROM outbox WHERE status = 'pending'), "
            "(SELECT count(*) FROM deliveries WHERE status = 'pending')")
    return unpolled == 0 and pending == 0 and undelivered == 0


def make_all_due(db: Path) -> None:
    """As if the poll interval had passed: every feed is due at the next start."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("UPDATE feeds SET next_poll = ''")
        conn.commit()
    finally:
        conn.close()


def start_daemon(cfg: Path, log: Path) -> subprocess.Popen:
    """`monitor run`, returned once it has logged that it is running (its jobs start at once)."""
    f = log.open("a")
    mark = log.stat().st_size
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(cfg), "run"], cwd=REPO,
                            stdout=f, stderr=f)
    f.close()
    deadline = time.monotonic() + 60
    while "monitor running" not in log.read_text()[mark:]:
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "the daemon did not start"
        time.sleep(0.02)
    return proc


def kill_once(cfg: Path, log: Path, smtp: Smtp, rng: random.Random, during_send: bool) -> dict:
    """Start the daemon and SIGKILL it: after a random delay, or inside the n-th SMTP transaction."""
    before = len(smtp.mailbox.messages)
    proc = start_daemon(cfg, log)
    delay = rng.uniform(0.05, 3.0)
    how = "timer"
    if during_send:
        smtp.mailbox.arm(proc.pid, 1)
        delay = 4.0                             # the fallback when nothing is sent
    try:
        proc.wait(timeout=delay)
        how = "smtp"
    except subprocess.TimeoutExpired:
        smtp.mailbox.kill_pid = None
        how = "idle" if during_send else "timer"    # armed, but nothing new was sent
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, log.read_text()[-3000:]
    return {"how": how, "delay": round(delay, 2), "sent": len(smtp.mailbox.messages) - before}


def delivered_items(messages: list) -> tuple[Counter, int]:
    """(rule, item url) -> times delivered, counting each Message-ID once; and the raw duplicates."""
    seen: set[str] = set()
    items: Counter = Counter()
    dups = 0
    for msg in messages:
        mid = msg["Message-ID"]
        if mid in seen:
            dups += 1
            continue
        seen.add(mid)
        items.update(parse_items(msg.get_body(("plain",)).get_content()))
    return items, dups


def parse_items(text: str) -> list[tuple[str, str]]:
    """(rule, url) for every item of a text digest: its section's rule plus its "Also matches"."""
    out, rule, rules = [], None, []
    for line in text.splitlines():
        if m := re.match(r"^== (.+) \(\d+\) ==$", line):
            rule = RULE_TITLES[m[1]]
        elif line.startswith("* "):
            rules = [rule]
        elif line.startswith("  Also matches: "):
            rules += [r.strip() for r in line.split(":", 1)[1].split(",")]
        elif m := re.match(r"^  (https?://\S+)$", line):
            out += [(r, m[1]) for r in rules]
    return out


def by_story(items: Counter, truth: dict[str, int]) -> Counter:
    out: Counter = Counter()
    for (rule, url), n in items.items():
        out[(rule, truth[path_of(url)])] += n
    return out


def path_of(url: str) -> str:
    """The farm-independent part of a URL (two farms listen on different ports)."""
    return urlsplit(url).path


def learn_truth(farm: Farm, truth: dict[str, int]) -> None:
    """/truth.json lists what the feeds carry now; keep what earlier states carried too."""
    truth.update({path_of(a["url"]): a["story"] for a in farm.truth()["articles"]})


def farm_args(feeds: int, items: int, seed: int) -> tuple[str, ...]:
    return ("--feeds", str(feeds), "--items", str(items), "--seed", str(seed))


def reference_run(tmp: Path, feeds: int, items: int, seed: int, advances: int) -> dict:
    """The same farm seed and steps, polled and delivered without interruption."""
    with Farm(*farm_args(feeds, items, seed)) as farm, Smtp() as smtp:
        cfg = write_config(tmp, farm.feed_urls(), smtp.port)
        truth: dict[str, int] = {}
        for step in range(advances + 1):
            if step:
                learn_truth(farm, truth)
                farm.advance(1)
            cli(cfg, "poll", "--once", "--all")
            cli(cfg, "digest", "--send")
        learn_truth(farm, truth)
        items_sent, dups = delivered_items(smtp.mailbox.messages)
    return {"urls": {path_of(u) for (u,) in db_rows(tmp / "state" / "monitor.db", "SELECT url FROM articles")},
            "items": by_story(items_sent, truth), "dups": dups, "messages": len(smtp.mailbox.messages)}


def crash_drill(tmp: Path, *, kills: int, feeds: int, items: int, seed: int, advances: int) -> dict:
    """Kill the daemon `kills` times, advancing the farm `advances` times in all; finish; report."""
    rng = random.Random(seed)
    db, log = tmp / "state" / "monitor.db", tmp / "daemon.log"
    tmp.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    stats: dict = {"kills": [], "integrity": [], "advanced_in_loop": 0}
    with Farm(*farm_args(feeds, items, seed)) as farm, Smtp() as smtp:
        cfg = write_config(tmp, farm.feed_urls(), smtp.port)
        advanced, truth = 0, {}
        for i in range(kills):
            stats["kills"].append(kill_once(cfg, log, smtp, rng, during_send=i % 2 == 1))
            stats["integrity"].append(db_rows(db, "PRAGMA integrity_check")[0][0])
            # advances spread over the kills, each once the current farm state is fully handled
            if advanced < min(advances, (i + 1) * advances // kills + 1) and state_done(db):
                learn_truth(farm, truth)
                farm.advance(1)
                make_all_due(db)
                advanced += 1
        stats["advanced_in_loop"] = advanced
        for _ in range(advanced, advances + 1):     # the steps the kills left, then the end state
            cli(cfg, "poll", "--once", "--all")
            cli(cfg, "digest", "--send")
            if advanced < advances:
                learn_truth(farm, truth)
                farm.advance(1)
                advanced += 1
        learn_truth(farm, truth)
        items_sent, dups = delivered_items(smtp.mailbox.messages)
    stats.update(urls={path_of(u) for (u,) in db_rows(db, "SELECT url FROM articles")},
                 items=by_story(items_sent, truth), dups=dups, messages=len(smtp.mailbox.messages),
                 outbox=dict(db_rows(db, "SELECT status, count(*) FROM outbox GROUP BY status")),
                 deliveries=dict(db_rows(db, "SELECT status, count(*) FROM deliveries GROUP BY status")))
    return stats


def check_drill(tmp: Path, kills: int, feeds: int, items: int, seed: int, advances: int) -> dict:
    crashed = crash_drill(tmp / "crash", kills=kills, feeds=feeds, items=items, seed=seed, advances=advances)
    ref = reference_run(tmp / "reference", feeds, items, seed, advances)
    assert crashed["integrity"] == ["ok"] * kills
    assert ref["items"], "the farm planted no phrases: the drill would prove nothing"
    assert crashed["urls"] == ref["urls"], "an article was lost (or invented) across the crashes"
    assert crashed["items"] == ref["items"]
    assert set(crashed["items"].values()) == {1}, "an item was delivered twice under different Message-IDs"
    assert set(crashed["outbox"]) == {"sent"} and set(crashed["deliveries"]) == {"sent"}
    assert ref["dups"] == 0
    return crashed


def test_sigkill_five_times_ends_like_an_uninterrupted_run(tmp_path):
    check_drill(tmp_path, kills=5, feeds=10, items=3, seed=11, advances=1)


@pytest.mark.slow
def test_sigkill_twenty_times_ends_like_an_uninterrupted_run(tmp_path):
    crashed = check_drill(tmp_path, kills=20, feeds=30, items=5, seed=7, advances=6)
    assert sum(k["how"] == "smtp" for k in crashed["kills"]) >= 3


def test_restart_resumes_a_delivery_claimed_before_the_crash(delivery_env, smtp_server, tmp_path):
    """A delivery persisted (its outbox rows claimed) but never sent goes out as soon as the daemon
    is back, not at the first 60 s digest tick: a daemon restarted more often than that would
    otherwise hold it forever, since alerts after a poll never touch claimed rows."""
    env = delivery_env(f"""  - name: desk
    type: email
    schedule: immediate
    host: 127.0.0.1
    port: {smtp_server.port}
    security: none
    from: monitor@example.org
    to: [desk@example.org]
""", "  immediate_per_rule_per_hour: 100\n")
    env.add("Kallas visits Tartu")
    [row] = env.store.pending_items("desk")
    stranded = env.store.create_delivery("desk", [row["outbox_id"]], kind="alert")   # then the crash
    env.store.close()
    cfg = tmp_path / "monitor.yaml"
    cfg.write_text(env.yaml + f"rules: {{path: {REPO}/tests/e2e_rules}}\nfeeds: []\n")
    log = tmp_path / "daemon.log"
    log.write_text("")
    proc = start_daemon(cfg, log)
    try:
        deadline = time.monotonic() + 30        # half the digest job's interval
        while not smtp_server.messages and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert [m["X-Monitor-Delivery"] for m in smtp_server.messages] == [stranded], log.read_text()[-2000:]


def test_restart_rebuilds_the_story_index_of_articles_dated_in_the_past(tmp_path):
    """The story window is in publication time (StoryIndex evicts a window before the latest
    article it saw), so a restart must reload, and the prune job keep, the signatures within a
    window of the latest stored one, not of the wall clock. Otherwise a copy polled after a
    restart of a story dated days ago (a new feed's backlog) becomes a new story: alerted twice."""
    from datetime import timedelta

    from monitor.config import settings as config_mod
    from monitor.daemon.run import Daemon, open_deps
    from monitor.store.sqlite import Store, now_utc
    from monitor.stories.index import StoryIndex

    text = " ".join(f"word{i} of the wire story about the Halvorsen Accord" for i in range(40))
    latest = now_utc() - timedelta(days=10)
    config = config_mod.parse(f"""
state: {{path: {tmp_path}/m.db, digests_dir: {tmp_path}/digests}}
rules: {{path: {REPO}/tests/e2e_rules}}
channels: [{{name: desk, type: file, schedule: hourly}}]
""", "test.yaml", tmp_path)
    before = StoryIndex()                       # what the process that crashed had decided
    store = Store(config.state_path)
    store.save_story_signatures([before.assign("https://a/old", "Old", "another story " * 50,
                                               latest - timedelta(hours=100)),
                                 before.assign("https://a/first", "Accord", text, latest)])
    store.close()

    async def restart() -> tuple[list[str], bool]:
        async with open_deps(config, use_pool=False) as deps:
            Daemon(deps).prune()
            kept = [r["article_url"] for r in deps.store.story_signatures(latest - timedelta(days=365))]
            copy = deps.stories.assign("https://b/copy", "Accord", text, latest + timedelta(minutes=5))
            return kept, copy.is_new_story

    kept, new_story = asyncio.run(restart())
    assert kept == ["https://a/first"], "only the signature a window before the latest one goes"
    assert not new_story, "the copy joins the story the crashed process indexed"
