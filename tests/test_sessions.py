"""Feed jobs' store connections are reused, never shared while in use (daemon/sessions.py)."""

from __future__ import annotations

import sqlite3

import pytest

from monitor.daemon.sessions import Sessions
from monitor.store.sqlite import Store


def test_a_finished_jobs_connection_serves_the_next_job_and_two_running_jobs_have_their_own(tmp_path):
    store = Store(tmp_path / "m.db")
    sessions = Sessions(store, keep=2)
    with sessions.session() as a:
        with sessions.session() as b:
            assert a is not b and a is not store and b is not store
            assert a.db.conn is not b.db.conn
    with sessions.session() as c:
        assert c in (a, b)              # reused, not opened again
        c.db.execute("SELECT 1").fetchone()
    sessions.close()
    with pytest.raises(sqlite3.ProgrammingError):      # closed with the pool
        c.db.execute("SELECT 1")
    store.close()


def test_a_job_that_raised_or_left_a_transaction_open_does_not_hand_on_its_connection(tmp_path):
    store = Store(tmp_path / "m.db")
    sessions = Sessions(store)
    with pytest.raises(RuntimeError), sessions.session() as a:
        raise RuntimeError("the job failed")
    with sessions.session() as b:
        assert b is not a
        b.db.execute("BEGIN")           # left open (a bug elsewhere): not handed on
    with sessions.session() as c:
        assert c is not b
    with pytest.raises(sqlite3.ProgrammingError):
        a.db.execute("SELECT 1")        # closed, not kept
    sessions.close()
    store.close()


def test_the_daemon_writes_the_same_rows_through_reused_connections(tmp_path):
    store = Store(tmp_path / "m.db")
    sessions = Sessions(store)
    for i in range(5):
        with sessions.session() as s, s.transaction():
            s.set_meta(f"k{i}", {"i": i})
    sessions.close()
    assert [store.get_meta(f"k{i}")[0] for i in range(5)] == [{"i": i} for i in range(5)]
    store.close()


def test_feed_jobs_never_checkpoint_at_commit_and_a_thread_does_it_once_the_log_is_large(tmp_path):
    store = Store(tmp_path / "m.db")
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")        # the migrations' pages: an empty log
    sessions = Sessions(store, checkpoint_bytes=64 << 10, checkpoint_every=3600)
    with sessions.session() as s:
        assert s.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        with s.transaction():
            s.set_meta("small", {"x": 1})
    assert sessions.checkpoints == 0 and sessions._checkpointer is None      # the log is still small
    wal = tmp_path / "m.db-wal"
    with sessions.session() as s, s.transaction():
        for i in range(200):
            s.set_meta(f"k{i}", {"pad": "x" * 2000})
    assert wal.stat().st_size >= 64 << 10
    sessions._checkpointer.join()
    assert sessions.checkpoints == 1
    # the log's frames are in the database file now: a connection opened on a copy of the file
    # alone (no -wal beside it) sees the rows
    copy = tmp_path / "copy.db"
    copy.write_bytes((tmp_path / "m.db").read_bytes())
    got = sqlite3.connect(copy).execute("SELECT count(*) FROM meta WHERE key LIKE 'k%'").fetchone()[0]
    assert got == 200
    with sessions.session() as s, s.transaction():     # the log keeps its size: within the hour, no second
        s.set_meta("again", {"x": 2})
    sessions._checkpointer.join()
    assert sessions.checkpoints == 1
    sessions.close()
    store.close()


def test_the_log_is_cut_back_to_its_limit_once_a_checkpoint_let_it_restart(tmp_path, monkeypatch):
    from monitor.store import base
    monkeypatch.setattr(base, "WAL_SIZE_LIMIT", 256 << 10)
    store = Store(tmp_path / "m.db")
    wal = tmp_path / "m.db-wal"
    store.db.execute("PRAGMA wal_autocheckpoint=0")
    with store.transaction():                        # a burst: a few MiB of log
        for i in range(1500):
            store.set_meta(f"k{i}", {"pad": "x" * 2000})
    assert wal.stat().st_size > 2 << 20
    assert store.db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[0] == 0
    assert wal.stat().st_size > 2 << 20              # checkpointed, the file keeps its size ...
    store.set_meta("next", {"x": 1})                 # ... until the log restarts at the next write
    assert wal.stat().st_size <= 256 << 10
    store.close()


def test_a_job_store_holds_a_connection_only_between_its_first_statement_and_its_release(tmp_path):
    store = Store(tmp_path / "m.db")
    sessions = Sessions(store, keep=4)
    with sessions.job() as a, sessions.job() as b:
        assert a._held is None                      # nothing taken before the first statement
        a.set_meta("k", {"v": 1})
        first = a._held[1]
        a.release_connection()
        assert a._held is None and sessions._idle[-1][1] is first
        b.get_meta("k")                             # the other job takes the connection given back
        assert b._held[1] is first
        with b.transaction():
            b.set_meta("k2", {"v": 2})
            b.release_connection()                  # refused inside a transaction: still held
            assert b._held[1] is first
        a.get_meta("k")                             # b still holds it: a gets another one
        assert a._held[1] is not first
    assert len(sessions._idle) == 2                 # both given back at the jobs' ends
    assert store.get_meta("k2")[0] == {"v": 2}
    sessions.close()
    store.close()
