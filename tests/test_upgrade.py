"""Upgrades: the config shipped with 0.1 and a database made by 0.1's code (schema 4, with
history) still work; where a value changed meaning, the message says what to write."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from monitor.config import settings as config_mod
from monitor.store.sqlite import MIGRATIONS, Store
from tests.farm import Farm

REPO = Path(__file__).resolve().parents[1]
OLD_CONFIG = REPO / "tests" / "upgrade" / "monitor-0.1.yaml"
OLD_SCHEMA = 4      # the schema of 0.1's databases: its migrations are the first four, never edited


def old_database(path: Path, feed: str) -> None:
    """A database as 0.1 left it: a polled feed, a seen entry, an article with a match still
    pending in the outbox, a delivery being retried, the heartbeat and a cycle."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied TEXT)")
    for version, script in enumerate(MIGRATIONS[:OLD_SCHEMA], start=1):
        db.executescript(script)
        db.execute("INSERT INTO schema_version VALUES (?, '2026-11-30T10:00:00+00:00')", [version])
    t = "2026-11-30T10:00:00+00:00"
    db.execute("INSERT INTO feeds (url, name, next_poll, last_poll, last_success, added, entries_seen) "
               "VALUES (?, 'Old feed', ?, ?, ?, ?, 1)", [feed, t, t, t, t])
    db.execute("INSERT INTO entries (feed_url, guid, url, article_id, first_seen, last_seen) "
               "VALUES (?, 'old-guid', 'https://old.example/a', 1, ?, ?)", [feed, t, t])
    db.execute("INSERT INTO articles (url, feed_url, guid, title, text, created) VALUES "
               "('https://old.example/a', ?, 'old-guid', 'Kaja Kallas in Tallinn', 'Kaja Kallas spoke.', ?)", [feed, t])
    db.execute("INSERT INTO matches VALUES (1, 'kallas', 'normal', 'Kaja Kallas', '[]', '[]', ?)", [t])
    db.execute("INSERT INTO outbox (article_id, rule, channel, priority, created) VALUES (1, 'kallas', 'archive', "
               "'normal', ?)", [t])
    db.execute("INSERT INTO meta VALUES ('heartbeat', '{\"pid\": 1, \"at\": \"2026-11-30T10:00:00+00:00\"}', ?)", [t])
    db.execute("INSERT INTO cycles (kind, started, finished, summary) VALUES ('poll', ?, ?, ?)",
               [t, t, '{"feeds": 1, "ok": 1, "failed": 0, "articles": 1, "matched": 1, "seconds": 1.0}'])
    db.commit()
    db.close()


def monitor(cfg: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "monitor", "--config", str(cfg), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=180)


def test_the_old_shipped_config_still_validates():
    cfg = config_mod.parse(OLD_CONFIG.read_text(), str(OLD_CONFIG), REPO)
    assert len(cfg.feeds) == 12 and cfg.retention_days == 90 and cfg.channels[0].name == "archive"


def test_an_old_install_is_refused_with_what_to_write_then_upgrades_and_keeps_its_history(tmp_path):
    with Farm("--feeds", "2", "--items", "2") as farm:
        home = tmp_path / "install"            # the old layout: config/, rules/, state/ side by side
        (home / "config").mkdir(parents=True)
        shutil.copytree(REPO / "rules", home / "rules")
        old = OLD_CONFIG.read_text()
        feeds = "".join(f"  - url: {u}\n" for u in farm.feed_urls())
        text = old[:old.index("\nfeeds:")] + "\nfeeds:\n" + feeds
        text = text.replace("fetch:\n", 'fetch:\n  allow_private: ["127.0.0.1/32"]\n  first_poll_alert_hours: all\n', 1)
        text = text.replace("  allow_private: []", "")
        cfg = home / "config" / "monitor.yaml"
        cfg.write_text(text)
        db = home / "state" / "monitor.db"
        old_database(db, farm.feed_urls()[0])

        # run from the old working directory: the configured place is now config/state/monitor.db
        refused = monitor(cfg, "run", cwd=home)
        assert refused.returncode == 2
        assert f"no database at {home / 'config' / 'state' / 'monitor.db'}, but there is one at {db}" in refused.stderr
        assert f"set state.path to {db}" in refused.stderr
        assert not (home / "config" / "state").exists()

        # what the message says: paths relative to the config file
        cfg.write_text(text.replace("path: state/monitor.db", "path: ../state/monitor.db")
                       .replace("digests_dir: state/digests", "digests_dir: ../state/digests")
                       .replace("path: rules ", "path: ../rules "))
        check = monitor(cfg, "config", "check", cwd=tmp_path)
        assert check.returncode == 0, check.stderr
        status = monitor(cfg, "status", cwd=tmp_path)
        assert f"schema version {OLD_SCHEMA}" in status.stderr + status.stdout and "monitor migrate" in status.stdout
        up = monitor(cfg, "migrate", cwd=tmp_path)
        assert up.returncode == 0 and f"upgraded schema version {len(MIGRATIONS)} (was {OLD_SCHEMA})" in up.stdout
        preview = monitor(cfg, "digest", "--preview", cwd=tmp_path)
        assert "Kaja Kallas in Tallinn" in preview.stdout          # the pending item survived
        polled = monitor(cfg, "poll", "--once", "--all", cwd=tmp_path)
        assert polled.returncode == 0, polled.stderr
        assert polled.stdout.startswith("poll: 2 feeds (2 ok")
        sent = monitor(cfg, "digest", "--send", cwd=tmp_path)
        assert sent.returncode == 0, sent.stdout + sent.stderr
    store = Store.existing(db)
    try:
        assert store.schema_version() == len(MIGRATIONS)
        assert store.counts()["articles"] == 1 + 4               # the old article and the farm's four
        rows = store.rows("SELECT status FROM outbox o JOIN articles a ON a.id = o.article_id "
                          "WHERE a.url = 'https://old.example/a'")
        assert rows == [{"status": "sent"}]
    finally:
        store.close()
