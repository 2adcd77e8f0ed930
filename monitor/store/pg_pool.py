"""The PostgreSQL backend's plumbing: the process's connection pools, errors and results.

Owns one psycopg_pool `ConnectionPool` per database per process (`pool_for`: connecting is
checked first, so a wrong URL is one clear error, not a pool timeout), the session settings
every pooled connection gets (`synchronous_commit`), closing them (`close_pools`, at exit and
when a test drops its schema), messages that never show a password (`masked`, `pg_error`),
and `Result`, a statement's rows read in full before its connection went back to the pool.
Must not hold queries or units of work (pg_base.py).
"""

from __future__ import annotations

import atexit
import re
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from monitor.errors import StateError

CONNECT_TIMEOUT_SECONDS = 10
POOL_TIMEOUT_SECONDS = 30.0
DEFAULT_POOL_SIZE = 4

_pools: dict[tuple[str, str | None, int, bool], ConnectionPool] = {}
_pools_lock = threading.Lock()


def masked(url: str) -> str:
    """The URL with its password replaced by ***, for messages and logs."""
    url = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
    return re.sub(r"(password=)[^&\s]*", r"\1***", url)


def pg_error(url: str, exc: BaseException) -> StateError:
    """A StateError naming the (masked) database, what is wrong and what to do."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    low = reason.lower()
    if "connect" in low or "timeout" in low or isinstance(exc, PoolTimeout):
        hint = "is PostgreSQL running and reachable there? (check state.url, and the password variable)"
    elif "password" in low or "authentication" in low or "role" in low:
        hint = "check the user and password (state.password_env or state.url_env)"
    elif "does not exist" in low and "database" in low:
        hint = "create the database first (createdb), or fix state.url"
    else:
        hint = "see state.url in the config"
    return StateError(f"state database {masked(url)}: {reason}; {hint}")


def _connect_kwargs(password: str | None) -> dict[str, Any]:
    kw: dict[str, Any] = {"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_SECONDS,
                          "application_name": "monitor"}
    if password:
        kw["password"] = password
    return kw


def _custom_plans(conn: psycopg.Connection) -> None:
    # Every statement is planned with its values (psycopg still prepares the repeated ones: parsed
    # once). PostgreSQL's default keeps a prepared statement's generic plan once it costs about what
    # the custom ones did, and a state starts empty: the plans made in a cold start's first seconds
    # are sequential scans of tables that then grow by thousands of rows (the story catch-up and the
    # known-URL check read all of story_signatures and articles, 3-16 ms each per feed at 15,000
    # rows, where an index probe takes 0.05 ms). Planning each time costs the server some 0.1 ms.
    conn.execute("SET plan_cache_mode TO force_custom_plan")


def _relaxed(conn: psycopg.Connection) -> None:
    # A commit returns before its WAL record is flushed: a crash of the server (not of monitor) may
    # lose the last fraction of a second of commits, never corrupt anything. The durability of the
    # SQLite backend (WAL, synchronous=NORMAL); state.synchronous_commit: true restores the default.
    _custom_plans(conn)
    conn.execute("SET synchronous_commit TO off")


def pool_for(url: str, password: str | None, size: int, synchronous_commit: bool = False) -> ConnectionPool:
    """The process's pool for one database (opened once; connecting is checked first, with a clear error)."""
    key = (url, password, size, synchronous_commit)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is not None and not pool.closed:
            return pool
        try:
            psycopg.connect(url, **_connect_kwargs(password)).close()
        except psycopg.Error as exc:
            raise pg_error(url, exc) from None
        pool = ConnectionPool(url, kwargs=_connect_kwargs(password), min_size=1, max_size=max(1, size),
                              timeout=POOL_TIMEOUT_SECONDS, open=True, name=f"monitor:{masked(url)}",
                              configure=_custom_plans if synchronous_commit else _relaxed)
        _pools[key] = pool
        return pool


def close_pools(url: str | None = None) -> None:
    """Close the pools (of one database URL, or all): at exit, and in tests that drop a schema."""
    with _pools_lock:
        for key in [k for k in _pools if url is None or k[0] == url]:
            _pools.pop(key).close()


atexit.register(close_pools)


class Result:
    """A statement's outcome, read in full before its connection went back to the pool."""

    lastrowid = None

    def __init__(self, cur: psycopg.Cursor):
        self.description = cur.description
        self.rowcount = cur.rowcount
        self._rows: list[tuple] = list(cur.fetchall()) if cur.description is not None else []
        self._next = 0

    def fetchone(self) -> tuple | None:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list[tuple]:
        rest, self._next = self._rows[self._next:], len(self._rows)
        return rest

    def __iter__(self) -> Iterator[tuple]:
        return iter(self.fetchall())
