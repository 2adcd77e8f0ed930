"""`monitor status` tells the truth: daemon running or not, per-channel trouble, configured feeds,
the last cycle that did work; works with an invalid config on disk; `--check` for health checks;
read-only commands never create or upgrade a database; backup and restore."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli.main import cli
from monitor.daemon.lock import StateLock
from monitor.store.sqlite import MIGRATIONS, Store, iso, now_utc

REPO = Path(__file__).resolve().parents[1]


def config(tmp: Path, feeds: int = 3, extra: str = "") -> Path:
    cfg = tmp / "monitor.yaml"
    urls = "\n".join(f"  - url: https://news{i}.example.org/feed" for i in range(feeds))
    cfg.write_text(f"state: {{path: state/monitor.db}}\nrules: {{path: {REPO / 'rules'}}}\n"
                   "channels:\n  - {name: archive, type: file}\n"
                   "  - {name: hook, type: webhook, url: 'https://hooks.example.org/x'}\n"
                   f"{extra}feeds:\n{urls}\n")
    return cfg


def run(cfg: Path, *args: str):
    return CliRunner().invoke(cli, ["--config", str(cfg), *args])


def beat(store: Store) -> None:
    store.set_meta("heartbeat", {"pid": 1, "at": iso(now_utc())})


def test_with_no_database_status_says_so_creates_nothing_and_check_fails(tmp_path):
    cfg = config(tmp_path)
    res = run(cfg, "status")
    assert res.exit_code == 0, res.output
    assert f"no database at {tmp_path / 'state' / 'monitor.db'}" in res.output
    assert "daemon: not running" in res.output
    assert "feeds: 3 configured" in res.output and "3 not polled yet" in res.output
    check = run(cfg, "status", "--check")
    assert check.exit_code == 1 and "no daemon is running" in check.output
    for args in (["feeds", "list"], ["rules", "backtest"], ["digest", "--preview"]):
        out = run(cfg, *args)
        if args[0] != "feeds":
            assert out.exit_code == 2 and "no database at" in out.output, (args, out.output)
    assert not (tmp_path / "state").exists()


def test_an_older_schema_is_not_upgraded_by_read_only_commands(tmp_path):
    cfg = config(tmp_path)
    (tmp_path / "state").mkdir()
    db = tmp_path / "state" / "monitor.db"
    conn = sqlite3.connect(db)      # a database made by the code before the latest migration
    conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied TEXT)")
    for version, script in enumerate(MIGRATIONS[:-1], start=1):
        conn.executescript(script)
        conn.execute("INSERT INTO schema_version VALUES (?, '')", [version])
    conn.commit()
    conn.close()
    res = run(cfg, "status")
    assert res.exit_code == 0 and f"schema version {len(MIGRATIONS) - 1}" in res.output
    assert "monitor migrate" in res.output
    assert run(cfg, "rules", "backtest").exit_code == 2
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] == len(MIGRATIONS) - 1
    conn.close()
    up = run(cfg, "migrate")
    assert up.exit_code == 0 and f"upgraded schema version {len(MIGRATIONS)}" in up.output
    assert "no database" not in run(cfg, "status").output


def test_status_with_an_invalid_config_on_disk_still_reports_the_state(tmp_path):
    cfg = config(tmp_path)
    Store(tmp_path / "state" / "monitor.db").close()
    cfg.write_text(cfg.read_text() + "retention_days: 0\n")
    res = run(cfg, "status", "--json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["config_valid"] is False
    assert any("retention_days" in e for e in report["config_errors"])
    assert report["database"] is None and report["counts"]["articles"] == 0
    assert "config: INVALID on disk" in run(cfg, "status").output


def test_a_failing_channel_and_a_live_daemon_show_in_status_and_check(tmp_path):
    cfg = config(tmp_path)
    db = tmp_path / "state" / "monitor.db"
    store = Store(db)
    try:
        beat(store)
        store.record_cycle("poll", now_utc(), {"feeds": 3, "ok": 3, "failed": 0, "articles": 7, "matched": 1})
        store.record_cycle("poll", now_utc(), {"feeds": 0, "ok": 0, "failed": 0, "articles": 0, "matched": 0})
        with StateLock(db):
            healthy = run(cfg, "status", "--check")
            assert healthy.exit_code == 0, healthy.output
            assert "daemon: running" in healthy.output and "health: OK" in healthy.output
            assert "3 feeds, 3 ok, 0 failed, 7 articles" in healthy.output   # the cycle that did work
            long_ago = now_utc() - timedelta(hours=2)
            did = store.create_delivery("hook", [], now=long_ago)
            store.mark_delivery_failed(did, "HTTP 503 from hooks.example.org", now_utc() + timedelta(minutes=5))
            res = run(cfg, "status", "--check")
            assert res.exit_code == 1
            assert "channel hook: RETRYING since" in res.output and "HTTP 503" in res.output
            assert "channel 'hook' has been failing since" in res.output
            assert "channel archive: ok" in res.output
            # a short outage is tolerated within the grace period
            assert run(cfg, "status", "--check", "--channel-grace-minutes", "600").exit_code == 0
            store.mark_delivery_failed(did, "HTTP 503 again", None)
            gave_up = run(cfg, "status", "--check", "--channel-grace-minutes", "600")
            assert gave_up.exit_code == 1 and "gave up its last delivery" in gave_up.output
        assert "no daemon is running" in run(cfg, "status", "--check").output
    finally:
        store.close()


def test_too_many_failing_feeds_fail_the_check(tmp_path):
    cfg = config(tmp_path, feeds=4)
    db = tmp_path / "state" / "monitor.db"
    store = Store(db)
    from monitor.config import settings
    store.sync_feeds(settings.load(cfg).feeds)
    for i in range(3):
        store.update_feed(f"https://news{i}.example.org/feed", error_count=2, last_error="HTTP 500")
    beat(store)
    try:
        with StateLock(db):
            res = run(cfg, "status", "--check")
            assert res.exit_code == 1 and "3 of 4 feeds are failing" in res.output
            assert run(cfg, "status", "--check", "--max-failing-feeds", "80").exit_code == 0
    finally:
        store.close()


@pytest.mark.parametrize("live", [False, True])
def test_backup_is_consistent_and_restore_puts_it_back(tmp_path, live):
    cfg = config(tmp_path)
    db = tmp_path / "state" / "monitor.db"
    store = Store(db)
    store.set_meta("marker", {"n": 1})
    copy = tmp_path / "backup.db"
    if live:     # a writer with uncommitted WAL content: the copy holds what was committed
        store.set_meta("wal-only", {"n": 2})
    res = run(cfg, "backup", str(copy))
    assert res.exit_code == 0, res.output
    assert run(cfg, "backup", str(copy)).exit_code == 1        # never overwrites
    store.set_meta("marker", {"n": 99})
    store.close()
    with StateLock(db):
        busy = run(cfg, "restore", str(copy))
        assert busy.exit_code == 2 and "already running" in busy.output
    res = run(cfg, "restore", str(copy))
    assert res.exit_code == 0, res.output
    restored = Store.existing(db)
    assert restored.get_meta("marker")[0] == {"n": 1}
    assert (restored.get_meta("wal-only") is not None) is live
    restored.close()
    kept = list((tmp_path / "state").glob("monitor.db.before-restore-*"))
    assert len(kept) == 1 and Store.existing(kept[0]).get_meta("marker")[0] == {"n": 99}
    (tmp_path / "junk.db").write_text("not sqlite")
    bad = run(cfg, "restore", str(tmp_path / "junk.db"))
    assert bad.exit_code == 1 and "not a monitor database" in bad.output


def test_a_running_daemons_verdict_on_unchanged_rule_files_is_reused(tmp_path):
    """`monitor status` does not compile a rule set the running daemon has already judged (a
    minute for 20,000 rules); a file changed since is compiled again, here."""
    import os
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "one.yaml").write_text("rules:\n  - id: one\n    query: Kallas\n")
    past = now_utc().timestamp() - 3600
    os.utime(rules / "one.yaml", (past, past))
    cfg = tmp_path / "monitor.yaml"
    cfg.write_text(f"state: {{path: state/monitor.db}}\nrules: {{path: {rules}}}\n")
    db = tmp_path / "state" / "monitor.db"
    store = Store(db)
    store.set_meta("rules", {"loaded": 20000, "errors": []})    # as the daemon reported it
    store.close()
    with StateLock(db):
        reused = json.loads(run(cfg, "status", "--json").output)["rules_on_disk"]
        (rules / "one.yaml").write_text("rules:\n  - id: one\n    query: '(Kallas'\n")    # edited since
        fresh = json.loads(run(cfg, "status", "--json").output)["rules_on_disk"]
    stopped = json.loads(run(cfg, "status", "--json").output)["rules_on_disk"]
    assert reused == {"valid": True, "rules": 20000, "errors": [], "checked_by": "daemon"}
    assert fresh["valid"] is False and "checked_by" not in fresh and fresh["errors"]
    assert stopped["valid"] is False and "checked_by" not in stopped     # no daemon: always compiled here
