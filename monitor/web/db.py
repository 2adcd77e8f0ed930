"""Short-lived database connections for the web interface, and running them off the event loop.

Owns how a page reaches the state database: every query runs in a worker thread
(`off_loop`) on its own connection opened for that call (`reading` is read-only,
`writing` takes the write lock with BEGIN IMMEDIATE), so no page shares the daemon's
connection or blocks an event loop. Must not hold SQL of its own beyond PRAGMAs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

T = TypeVar("T")

BUSY_TIMEOUT_MS = 10_000


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
    conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                           check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


@contextmanager
def reading(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection for one request; closed afterwards."""
    conn = _connect(path, readonly=True)
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def writing(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection holding one write transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error)."""
    conn = _connect(path, readonly=False)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        conn.close()


def rows(conn: sqlite3.Connection, sql: str, params: Any = ()) -> list[dict]:
    return [dict(r) for r in conn.execute(sql, params).fetchall()]


def one(conn: sqlite3.Connection, sql: str, params: Any = ()) -> dict | None:
    r = conn.execute(sql, params).fetchone()
    return dict(r) if r else None


async def off_loop(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking function (a query, a backtest) in a worker thread."""
    return await run_in_threadpool(fn, *args, **kwargs)
