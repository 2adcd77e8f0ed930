"""Housekeeping's vacuum (store/vacuum.py, `monitor vacuum`): after a big prune the state file
shrinks in small steps while another connection keeps committing; an older database without
incremental vacuum is told to convert, and converts with `monitor vacuum` (daemon stopped)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from click.testing import CliRunner

from monitor.cli.main import cli
from monitor.config.settings import parse
from monitor.daemon.lock import StateLock
from monitor.store import vacuum
from monitor.store.sqlite import Store, db_bytes
from tests.test_isolation_daemon import old_entries


def _prune(db: Path) -> int:
    store = Store(db)
    try:
        return store.prune(90)
    finally:
        store.close()


def _free_pages(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("PRAGMA freelist_count").fetchone()[0]
    finally:
        conn.close()


class Writer(threading.Thread):
    """A witness on its own connection: a small commit every 5 ms, the longest wait recorded."""

    def __init__(self, db: Path):
        super().__init__(daemon=True)
        self.db, self.stop, self.commits, self.longest = db, threading.Event(), 0, 0.0

    def run(self) -> None:
        conn = sqlite3.connect(self.db, timeout=30, isolation_level=None)
        while not self.stop.is_set():
            t0 = time.monotonic()
            conn.execute("INSERT OR REPLACE INTO meta (key, value, updated) VALUES ('witness', ?, '')",
                         [str(self.commits)])
            self.longest = max(self.longest, time.monotonic() - t0)
            self.commits += 1
            time.sleep(0.005)
        conn.close()


def test_a_big_prune_is_given_back_in_steps_while_another_connection_commits(tmp_path):
    db = tmp_path / "monitor.db"
    old_entries(db, n=40_000)
    _prune(db)                                      # entries of a removed feed, past retention
    grown = db_bytes(db)
    free = _free_pages(db)
    assert free > 1000, "the prune freed nothing to give back"
    writer = Writer(db)
    writer.start()
    try:
        report = vacuum.incremental(db, step_pages=128)
    finally:
        writer.stop.set()
        writer.join()
    assert report.mode == "incremental"
    assert report.freed_pages >= free - vacuum.KEEP_FREE_PAGES - 1
    assert report.free_pages <= vacuum.KEEP_FREE_PAGES
    assert report.bytes_after < grown * 0.6, (grown, report)
    # the writer still commits while the report is taken: its log may differ by a few pages since
    assert abs(db_bytes(db) - report.bytes_after) <= 4 * 4096, (db_bytes(db), report)
    assert writer.commits > 10 and writer.longest < 2.0, (writer.commits, writer.longest)
    store = Store(db)
    try:                                            # nothing current was lost
        assert store.db.execute("SELECT count(*) FROM entries").fetchone()[0] == 1
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        store.close()


def test_an_older_database_is_told_to_convert_and_monitor_vacuum_converts_it(tmp_path):
    db = tmp_path / "state" / "monitor.db"
    db.parent.mkdir()
    conn = sqlite3.connect(db)                      # as an older monitor made it: auto_vacuum NONE
    conn.execute("CREATE TABLE early (x)")
    conn.close()
    old_entries(db, n=30_000)
    _prune(db)
    report = vacuum.incremental(db)
    assert report.mode == "none" and report.freed_pages == 0 and report.free_pages > 1000
    assert "monitor vacuum" in report.line()
    cfg = tmp_path / "monitor.yaml"
    cfg.write_text(f"state: {{path: {db}}}\n")
    runner = CliRunner()
    with StateLock(db):                             # a daemon running: refused, nothing touched
        refused = runner.invoke(cli, ["--config", str(cfg), "vacuum"])
    assert refused.exit_code == 2 and "not vacuumed" in refused.output
    before = db_bytes(db)
    done = runner.invoke(cli, ["--config", str(cfg), "vacuum"])
    assert done.exit_code == 0, done.output
    assert "auto_vacuum incremental" in done.output
    assert db_bytes(db) < before * 0.6
    conn = sqlite3.connect(db, isolation_level=None)   # more old entries: from now on housekeeping
    conn.executemany("INSERT INTO entries (feed_url, guid, url, first_seen, last_seen) VALUES (?,?,?,?,?)",
                     [("https://old.example/feed", f"again{i}", f"https://old.example/a{i}",
                       "2020-01-01T00:00:00+00:00", "2020-01-01T00:00:00+00:00") for i in range(20_000)])
    conn.close()
    _prune(db)                                      # gives the space back by itself
    again = vacuum.incremental(db)
    assert again.mode == "incremental" and again.freed_pages > 0 and again.bytes_after < again.bytes_before


def test_state_vacuum_is_a_checked_config_key():
    assert parse("state: {vacuum: false}\n").state_vacuum is False
    assert parse("{}\n").state_vacuum is True
    try:
        parse("state: {vacuum: sometimes}\n")
    except Exception as exc:                        # ConfigError with the place
        assert "vacuum must be bool" in str(exc) and ":1:" in str(exc)
    else:
        raise AssertionError("state.vacuum: sometimes was accepted")
