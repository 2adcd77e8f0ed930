"""`monitor migrate --to`: killed mid-copy and run again, it completes and verifies; its refusals.

(The farm-filled migration, row for row, is in test_pg_farm.py.)"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from monitor.config.settings import FeedSettings
from monitor.models import Entry
from monitor.store.postgres import PgStore
from monitor.store.sqlite import Store

REPO = Path(__file__).resolve().parents[1]
FEED = "https://news.example/feed.xml"
N = 20_000


def sqlite_state(tmp: Path) -> Path:
    path = tmp / "state" / "monitor.db"
    store = Store(path)
    store.sync_feeds([FeedSettings(url=FEED)])
    store.save_feed_items(FEED, [Entry(FEED, f"g{i:06d}", f"https://news.example/a/{i}") for i in range(N)], [], {})
    store.close()
    (tmp / "c.yaml").write_text(f"state:\n  path: {path}\nfeeds:\n  - url: {FEED}\n")
    return tmp / "c.yaml"


def migrate(cfg: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(cfg), "migrate", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def settled_count(target: PgStore) -> int:
    """The entries once the killed client's last COMMIT, if the server had it, has landed: the
    server may still be finishing it when the client is already gone (seen on a loaded machine)."""
    count = -1
    while True:
        now = target.rows("SELECT count(*) AS n FROM entries")[0]["n"]
        if now == count:
            return count
        count = now
        time.sleep(0.5)


def test_a_copy_killed_half_way_is_completed_by_running_it_again(tmp_path, pg_url):
    cfg = sqlite_state(tmp_path)
    proc = migrate(cfg, "--to", pg_url, "--batch", "20")
    target = PgStore(pg_url)                   # migrates (the command may be doing the same: advisory lock)
    deadline = time.monotonic() + 120
    copied = 0
    while time.monotonic() < deadline and proc.poll() is None:
        copied = target.rows("SELECT count(*) AS n FROM entries")[0]["n"]
        if copied >= 200:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    partial = settled_count(target)
    assert 200 <= partial < N, f"not interrupted half-way ({partial} of {N}): the test proves nothing"
    assert partial % 20 == 0, "a batch is one transaction: none is half there"

    again = migrate(cfg, "--to", pg_url, "--batch", "5000")
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, out + err
    line = next(x for x in out.splitlines() if x.startswith("entries"))
    assert f"{N - partial:>8} copied" in line and f"{partial:>8} already there" in line, line
    assert target.rows("SELECT count(*) AS n FROM entries")[0]["n"] == N
    assert "every table's counts agree" in out
    target.close()


def test_refusals(tmp_path, pg_url):
    cfg = sqlite_state(tmp_path)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "monitor", "--config", str(cfg), "migrate", *args],
                              cwd=REPO, capture_output=True, text=True, timeout=120)
    bad = run("--to", "mysql://h/d")
    assert bad.returncode == 2 and "must be a PostgreSQL URL" in bad.stderr
    unset = run("--to", pg_url, "--password-env", "MONITOR_TEST_UNSET_PW")
    assert unset.returncode == 2 and "MONITOR_TEST_UNSET_PW" in unset.stderr
    missing = run("--to", pg_url, "--from", str(tmp_path / "nothing.db"))
    assert missing.returncode == 2 and "no database at" in missing.stderr
    # a daemon holding the SQLite state's lock: nothing is copied
    from monitor.daemon.lock import StateLock
    with StateLock(tmp_path / "state" / "monitor.db"):
        busy = run("--to", pg_url)
    assert busy.returncode == 2 and "stop the daemon first" in busy.stderr, busy.stderr
    target = PgStore(pg_url)
    assert target.rows("SELECT count(*) AS n FROM entries")[0]["n"] == 0
    target.close()
