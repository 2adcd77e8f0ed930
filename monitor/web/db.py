"""Short-lived database connections for the web interface, and running them off the event loop.

Owns how a page reaches the state database, on either backend: every query runs in a
worker thread (`off_loop`) on a connection of its own for that call. The target is a
SQLite file (a `Path`: `reading` opens it read-only, `writing` takes the write lock with
BEGIN IMMEDIATE) or a PostgreSQL state (`PgTarget`: a connection borrowed from the web
interface's own small pool, in a READ ONLY transaction or a read-write one), so no page
shares the daemon's connections or blocks an event loop. On PostgreSQL the connection is
a `PgConn`: `execute` takes the queries' SQLite spelling (monitor.store.dialect), `stream`
reads a SELECT through a server-side cursor (a search or a backtest never loads a whole
result), and rows answer by position and by name as sqlite3.Row does. Must not hold SQL of its own beyond PRAGMAs and session settings.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, Union

from starlette.concurrency import run_in_threadpool

T = TypeVar("T")

BUSY_TIMEOUT_MS = 10_000
PG_POOL_SIZE = 4
FETCH_ROWS = 500


@dataclass(frozen=True)
class PgTarget:
    """A PostgreSQL state as the web interface reaches it (state.url, its password)."""

    url: str
    password: str | None = None


Target = Union[Path, PgTarget]


def target_of(config: Any) -> Target:
    """The config's state: its SQLite file, or its PostgreSQL URL (password from the environment)."""
    if getattr(config, "postgres", None) is None:
        return config.state_path
    url, password = config.postgres.resolve()
    return PgTarget(url, password)


class Row:
    """A PostgreSQL row answering like sqlite3.Row: by position, by column name, `keys()`, `dict(row)`."""

    __slots__ = ("_names", "_values")

    def __init__(self, names: dict[str, int], values: Sequence[Any]):
        self._names, self._values = names, values

    def __getitem__(self, key: int | str) -> Any:
        return self._values[key if isinstance(key, int) else self._names[key]]

    def keys(self) -> list[str]:
        return list(self._names)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


class PgCursor:
    """A statement's rows, fetched from the server as they are read."""

    def __init__(self, cur: Any):
        self._cur = cur
        desc = cur.description or ()
        self._names = {d.name: i for i, d in enumerate(desc)}
        self.rowcount = cur.rowcount
        self.lastrowid = None

    def _rows(self, found: list) -> list[Row]:
        return [Row(self._names, r) for r in found]

    def fetchone(self) -> Row | None:
        r = self._cur.fetchone()
        return None if r is None else Row(self._names, r)

    def fetchmany(self, size: int = FETCH_ROWS) -> list[Row]:
        return self._rows(self._cur.fetchmany(size))

    def fetchall(self) -> list[Row]:
        return self._rows(self._cur.fetchall())

    def __iter__(self) -> Iterator[Row]:
        while batch := self.fetchmany():
            yield from batch

    def close(self) -> None:
        self._cur.close()


class PgConn:
    """A PostgreSQL connection for one request, spoken to in the queries' SQLite spelling."""

    postgres = True
    _names = itertools.count()

    def __init__(self, conn: Any):
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> PgCursor:
        """A statement whose rows come back at once (the pages' bounded queries: planned for all rows)."""
        from monitor.store.dialect import to_postgres
        cur = self.conn.cursor()
        cur.execute(to_postgres(sql), list(params))
        return PgCursor(cur)

    def stream(self, sql: str, params: Sequence[Any] = ()) -> PgCursor:
        """A SELECT read through a server-side cursor, FETCH_ROWS at a time (search, the backtest:
        unbounded results read only as far as the time budget goes)."""
        from monitor.store.dialect import to_postgres
        cur = self.conn.cursor(name=f"web{next(self._names)}")
        cur.itersize = FETCH_ROWS
        cur.execute(to_postgres(sql), list(params))
        return PgCursor(cur)


_pools: dict[PgTarget, Any] = {}
_pools_lock = threading.Lock()


def _configure(conn: Any) -> None:
    # a page's queries are a few index lookups: starting parallel workers costs more than they
    # save, and takes cores from the daemon's jobs
    conn.execute("SET max_parallel_workers_per_gather = 0")


def _pool(target: PgTarget) -> Any:
    """The web interface's own pool for this database (not the daemon's: a slow page never starves a job)."""
    from psycopg_pool import ConnectionPool

    from monitor.store.pg_pool import _connect_kwargs
    with _pools_lock:
        pool = _pools.get(target)
        if pool is None or pool.closed:
            pool = ConnectionPool(target.url, kwargs=_connect_kwargs(target.password), min_size=0,
                                  max_size=PG_POOL_SIZE, timeout=30.0, open=True, name="monitor-web",
                                  configure=_configure)
            _pools[target] = pool
        return pool


def close_pools() -> None:
    """Close the web interface's PostgreSQL pools (when its server stops)."""
    with _pools_lock:
        for pool in _pools.values():
            pool.close()
        _pools.clear()


@contextmanager
def _pg(target: PgTarget, readonly: bool) -> Iterator[PgConn]:
    from monitor.store.pg_pool import pg_error
    try:
        with _pool(target).connection() as conn:
            conn.read_only = readonly
            try:
                with conn.transaction():
                    yield PgConn(conn)
            finally:
                conn.read_only = None
    except Exception as exc:
        import psycopg
        if isinstance(exc, psycopg.OperationalError):
            raise pg_error(target.url, exc) from None
        raise


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
    conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                           check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


@contextmanager
def reading(path: Target) -> Iterator[Any]:
    """A read-only connection for one request; closed (or given back) afterwards."""
    if isinstance(path, PgTarget):
        with _pg(path, readonly=True) as pg:
            yield pg
        return
    conn = _connect(path, readonly=True)
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def writing(path: Target) -> Iterator[Any]:
    """A connection holding one write transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error)."""
    if isinstance(path, PgTarget):
        with _pg(path, readonly=False) as pg:
            yield pg
        return
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


def is_postgres(conn: Any) -> bool:
    return isinstance(conn, PgConn)


def rows(conn: sqlite3.Connection, sql: str, params: Any = ()) -> list[dict]:
    return [dict(r) for r in conn.execute(sql, params).fetchall()]


def one(conn: sqlite3.Connection, sql: str, params: Any = ()) -> dict | None:
    r = conn.execute(sql, params).fetchone()
    return dict(r) if r else None


async def off_loop(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking function (a query, a backtest) in a worker thread."""
    return await run_in_threadpool(fn, *args, **kwargs)
