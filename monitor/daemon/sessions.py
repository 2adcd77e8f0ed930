"""Store connections handed from one feed job to the next instead of opened and closed for each.

Owns reusing a job's connection: a job still has a connection of its own for as long as it
runs (two jobs running at once never share one); when it ends cleanly and outside a
transaction, its connection waits (up to `keep` of them) for the next job. A job that
raised closes its connection. Opening one (SQLite in WAL mode, the pragmas) measured
1.4 ms of wall time and 0.8 ms of CPU on the loaded development machine: 1.4 s of a warm
1,000-feed cycle.

Also owns checkpointing the write-ahead log for those connections, off the event loop:
a feed job's connection never checkpoints at its COMMIT (`wal_autocheckpoint=0`; SQLite's
default copies the log into the database, with two fsyncs, in whichever COMMIT finds it
past 1,000 pages, blocking every other feed meanwhile: 2.1 of the 5 s of main-process
time of a 300-feed cold cycle, docs/benchmarks.md). Instead, when a job ends and the log
is past `checkpoint_bytes`, one thread with a connection of its own runs a PASSIVE
checkpoint (never blocks readers or writers; sqlite3 releases the GIL meanwhile), at most
one a `checkpoint_every` seconds: a checkpointed log is reused from its start but keeps
its size on disk, so past its first fill the size alone would ask after every job.
`job()` is the feed job's handle: it takes a connection at its first statement and gives it
back at `release_connection()` (outside a transaction), which the pipeline calls before it
awaits the worker pool or page fetches. A cold cycle fetches feeds faster than the pool
parses and analyses them, so jobs holding a connection while they waited for the pool were
hundreds at once: every feed job of a cold 1,000-feed cycle opened a connection of its own
(1,001 opens, each a schema read: CPU on the event loop, and memory), where a job that
holds one only while it runs SQL finds one waiting.
Must not hold queries.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

log = logging.getLogger("monitor.daemon.sessions")

CHECKPOINT_BYTES = 4 << 20      # SQLite's own default point: 1,000 pages of 4 KiB


class Sessions:
    """`with sessions.session() as store:` like `Store.session()`, reusing closed-over connections."""

    def __init__(self, store: Any, keep: int = 16, checkpoint_bytes: int = CHECKPOINT_BYTES,
                 checkpoint_every: float = 1.0):
        self.store = store
        self.keep = keep
        self.checkpoint_bytes = checkpoint_bytes
        self.checkpoint_every = checkpoint_every
        self._last_checkpoint = float("-inf")
        self.checkpoints = 0            # checkpoints run by the thread (tests, logs)
        self._idle: list[tuple[AbstractContextManager, Any]] = []
        self._closed = False
        path = getattr(store, "path", None)
        self._db = None if getattr(store, "_memory", True) or path is None else str(path)
        self._wal = None if self._db is None else self._db + "-wal"
        self._checkpointer: threading.Thread | None = None

    @contextmanager
    def session(self) -> Iterator[Any]:
        opened, handle = self._checkout()
        clean = False
        try:
            yield handle
            clean = True
        finally:
            self._checkin(opened, handle, clean)

    @contextmanager
    def job(self) -> Iterator[Any]:
        """A feed job's handle (`JobStore`): a connection only from its first statement to its
        `release_connection()` or the job's end."""
        lease = JobStore(self)
        clean = False
        try:
            yield lease
            clean = True
        finally:
            lease._give_back(clean)

    def _checkout(self) -> tuple[AbstractContextManager, Any]:
        if self._idle:
            return self._idle.pop()
        opened = self.store.session()
        handle = opened.__enter__()
        if handle is not self.store and self._wal is not None:
            handle.db.execute("PRAGMA wal_autocheckpoint=0")    # checkpointed off the loop (below)
        return opened, handle

    def _checkin(self, opened: AbstractContextManager, handle: Any, clean: bool) -> None:
        if clean and not self._closed and handle is not self.store and len(self._idle) < self.keep \
                and not _in_transaction(handle):
            self._idle.append((opened, handle))
        else:
            opened.__exit__(None, None, None)
        self._maybe_checkpoint()

    def _maybe_checkpoint(self) -> None:
        if self._wal is None or self._closed or (self._checkpointer is not None and self._checkpointer.is_alive()):
            return
        now = time.monotonic()
        if now - self._last_checkpoint < self.checkpoint_every:
            return
        try:
            size = os.stat(self._wal).st_size
        except OSError:
            return
        if size < self.checkpoint_bytes:
            return
        self._last_checkpoint = now
        self._checkpointer = threading.Thread(target=self._checkpoint, name="monitor-checkpoint", daemon=True)
        self._checkpointer.start()

    def _checkpoint(self) -> None:
        assert self._db is not None
        try:
            conn = sqlite3.connect(self._db, timeout=5.0, isolation_level=None)
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            finally:
                conn.close()
            self.checkpoints += 1
        except sqlite3.Error as exc:        # the next job's end tries again; SQLite's close checkpoints too
            log.warning("checkpoint of %s failed: %s", self._db, exc)

    def close(self) -> None:
        """Close the waiting connections (after a checkpoint under way); a running job closes its own."""
        self._closed = True
        if self._checkpointer is not None:
            self._checkpointer.join()
        idle, self._idle = self._idle, []
        for opened, _ in idle:
            opened.__exit__(None, None, None)


def _in_transaction(handle: Any) -> bool:
    conn = getattr(getattr(handle, "db", None), "conn", None)
    return bool(getattr(conn, "in_transaction", False)) or getattr(handle, "_tx_owner", None) is not None


class JobStore:
    """A store handle for one feed job that holds a connection only while the job runs SQL.

    Every attribute is the held connection's (taken from the `Sessions` at the first use);
    `release_connection()` hands it back when no transaction is open on it, and the next
    statement takes one again (most often the same, waiting idle). Two jobs never use one
    connection at the same time: a job holds it from its first statement to its release,
    and the event loop runs one job at a time between awaits."""

    def __init__(self, sessions: Sessions):
        self._sessions = sessions
        self._held: tuple[AbstractContextManager, Any] | None = None

    def __getattr__(self, name: str) -> Any:
        held = self._held
        if held is None:
            held = self._held = self._sessions._checkout()
        return getattr(held[1], name)

    def release_connection(self) -> None:
        """Give the connection back between statements (before awaiting other work); kept while a
        transaction is open on it."""
        held = self._held
        if held is not None and not _in_transaction(held[1]):
            self._held = None
            self._sessions._checkin(*held, True)

    def _give_back(self, clean: bool) -> None:
        held, self._held = self._held, None
        if held is not None:
            self._sessions._checkin(*held, clean)
