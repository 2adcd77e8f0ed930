"""The PostgreSQL backend's connection layer: a psycopg 3 pool, migrating, units of work.

`PgBase` overrides `StoreBase`'s connection hooks, so the shared query modules run
unchanged on PostgreSQL: `self.db` is a `PgDatabase`, whose `execute` takes the queries'
SQLite spelling (`dialect.to_postgres`) and returns a fully read `Result`. A handle
holds no connection between statements: each statement outside a unit of work borrows
one from the process's pool for its duration (autocommit), and `transaction()` holds one
from BEGIN to COMMIT. So a daemon with thousands of feed jobs, each with its own handle
(`session()`), uses no more connections than statements run at once (`state.pool_size`).
Units of work keep SQLite's discipline: one per job, savepoints when nested in the same
job, `TransactionConflict` from another job (a statement from another job while one is
open raises it too, rather than riding along). Migrations run under an advisory lock,
so workers starting together migrate once. Must not hold queries about the tables.
"""

from __future__ import annotations

import atexit
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from monitor.errors import StateError
from monitor.store.base import StateUnavailable, StoreBase, TransactionConflict, _unit_of_work, iso, now_utc
from monitor.store.dialect import POSTGRES, Dialect, to_postgres
from monitor.store.pg_schema import PG_MIGRATIONS, pg_statements

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


def _relaxed(conn: psycopg.Connection) -> None:
    # A commit returns before its WAL record is flushed: a crash of the server (not of monitor) may
    # lose the last fraction of a second of commits, never corrupt anything. The durability of the
    # SQLite backend (WAL, synchronous=NORMAL); state.synchronous_commit: true restores the default.
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
                              configure=None if synchronous_commit else _relaxed)
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


class PgDatabase:
    """`store.db` on PostgreSQL: `execute` in the queries' shared spelling, and `table_names`."""

    def __init__(self, store: PgBase):
        self._store = store

    @property
    def conn(self) -> psycopg.Connection | None:
        """The connection of the open unit of work, if any (between statements there is none)."""
        return self._store._conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        return self._store._run(to_postgres(sql), list(params))

    def table_names(self) -> list[str]:
        return [r[0] for r in self.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
            "ORDER BY table_name")]


class PgBase(StoreBase):
    """A handle on a PostgreSQL state: the pool's connections, borrowed per statement or unit of work."""

    dialect: Dialect = POSTGRES

    def __init__(self, url: str, *, migrate: bool = True, create: bool = True, password: str | None = None,
                 pool_size: int = DEFAULT_POOL_SIZE, synchronous_commit: bool = False):
        self.url = url
        self.path = None  # type: ignore[assignment]   # no file: see `url`
        self._memory = False
        self._password = password
        self._pool_size = pool_size
        self._synchronous = synchronous_commit
        self._tx_owner = None
        self._tx_depth = 0
        self._conn: psycopg.Connection | None = None
        self._pool = pool_for(url, password, pool_size, synchronous_commit)
        self.db = PgDatabase(self)  # type: ignore[assignment]
        if migrate and create:
            self.migrate()

    @property
    def label(self) -> str:
        return masked(self.url)

    @classmethod
    def existing(cls, url: str, *, password: str | None = None,  # type: ignore[override]
                 pool_size: int = DEFAULT_POOL_SIZE, synchronous_commit: bool = False) -> Any:
        """The database as it is, for read-only commands: never migrated; StateUnavailable when not at this
        monitor's schema version."""
        store = cls(url, migrate=False, create=False, password=password, pool_size=pool_size,
                    synchronous_commit=synchronous_commit)
        version, wanted = store.schema_version(), len(PG_MIGRATIONS)
        if version != wanted:
            store.close()
            if version == 0:
                raise StateUnavailable(f"no monitor schema in {masked(url)} yet (`monitor migrate` or "
                                       "`monitor run` creates it)")
            if version < wanted:
                raise StateUnavailable(f"the database at {masked(url)} has schema version {version}, this "
                                       f"monitor needs {wanted}: upgrade it with `monitor migrate`")
            raise StateUnavailable(f"the database at {masked(url)} has schema version {version}, newer than "
                                   f"this monitor knows ({wanted}): run the newer monitor")
        return store

    # -- connections ------------------------------------------------------------
    def _run(self, sql: str, params: list[Any]) -> Result:
        if self._conn is not None:
            if self._tx_owner is not None and self._tx_owner != _unit_of_work():
                raise TransactionConflict("a statement from another job while a transaction is open on this "
                                          "handle; each job uses its own (Store.session())")
            return Result(self._conn.execute(sql, params))
        try:
            with self._pool.connection() as conn:
                return Result(conn.execute(sql, params))
        except PoolTimeout as exc:
            raise pg_error(self.url, exc) from None

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if self._conn is not None:
            if self._tx_owner is not None and self._tx_owner != _unit_of_work():
                raise TransactionConflict("a statement from another job while a transaction is open on this "
                                          "handle; each job uses its own (Store.session())")
            with self._conn.cursor() as cur:
                cur.executemany(to_postgres(sql), [list(r) for r in rows])
            return
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.executemany(to_postgres(sql), [list(r) for r in rows])

    def _many_returning(self, sql: str, rows: Sequence[Sequence[Any]]) -> list[list[tuple]]:
        if not rows:
            return []
        if self._conn is None:              # outside a unit of work: as one, so the results stay together
            with self.transaction():
                return self._many_returning(sql, rows)
        if self._tx_owner is not None and self._tx_owner != _unit_of_work():
            raise TransactionConflict("a statement from another job while a transaction is open on this "
                                      "handle; each job uses its own (Store.session())")
        out: list[list[tuple]] = []
        with self._conn.cursor() as cur:
            cur.executemany(to_postgres(sql), [list(r) for r in rows], returning=True)
            while True:
                out.append(list(cur.fetchall()) if cur.description is not None else [])
                if not cur.nextset():
                    break
        return out

    @contextmanager
    def session(self) -> Iterator[Any]:
        """A handle of its own for one job (it shares the pool: a connection only while it runs SQL)."""
        other = type(self)(self.url, migrate=False, password=self._password, pool_size=self._pool_size,
                           synchronous_commit=self._synchronous)
        try:
            yield other
        finally:
            other.close()

    def close(self) -> None:
        if self._conn is not None:          # a unit of work left open by a crash in its job
            conn, self._conn = self._conn, None
            try:
                conn.rollback()
            finally:
                self._pool.putconn(conn)

    def size_bytes(self) -> int:
        row = self.db.execute("SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                              "JOIN pg_namespace n ON n.oid = c.relnamespace "
                              "WHERE n.nspname = current_schema() AND c.relkind = 'r'").fetchone()
        return int(row[0]) if row else 0

    # -- schema -----------------------------------------------------------------
    def schema_version(self) -> int:
        row = self.db.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
        if not row or not row[0]:
            return 0
        row = self.db.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0] or 0) if row else 0

    def migrate(self) -> int:
        """Apply every PostgreSQL migration newer than the database, under an advisory lock."""
        try:
            with self._pool.connection() as conn:
                schema = conn.execute("SELECT current_schema()").fetchone()
                if not schema or schema[0] is None:
                    raise StateError(f"state database {self.label}: its search_path names no existing schema; "
                                     "create the schema first (CREATE SCHEMA ...)")
                conn.execute("SELECT pg_advisory_lock(hashtext('monitor-migrate:' || current_schema()))")
                try:
                    self._migrate_on(conn)
                finally:
                    conn.execute("SELECT pg_advisory_unlock(hashtext('monitor-migrate:' || current_schema()))")
        except psycopg.OperationalError as exc:
            raise pg_error(self.url, exc) from None
        return len(PG_MIGRATIONS)

    @staticmethod
    def _migrate_on(conn: psycopg.Connection) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied TEXT)")
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        current = int(row[0] or 0) if row else 0
        for version, script in enumerate(PG_MIGRATIONS, start=1):
            if version <= current:
                continue
            with conn.transaction():
                for statement in pg_statements(script):
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version VALUES (%s, %s)", [version, iso(now_utc())])

    def has_column(self, table: str, column: str) -> bool:
        return self.db.execute("SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
                               "AND table_name = ? AND column_name = ?", [table, column]).fetchone() is not None

    def integrity_ok(self) -> bool:
        """PostgreSQL keeps its own integrity; this checks that the schema answers."""
        return self.schema_version() == len(PG_MIGRATIONS)

    # -- units of work ------------------------------------------------------------
    def _tx_open(self) -> bool:
        return self._conn is not None

    def _tx_begin(self) -> None:
        try:
            conn = self._pool.getconn()
        except PoolTimeout as exc:
            raise pg_error(self.url, exc) from None
        try:
            conn.execute("BEGIN")
        except BaseException:
            self._pool.putconn(conn)
            raise
        self._conn = conn

    def _tx_finish(self, commit: bool) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.execute("COMMIT" if commit else "ROLLBACK")
        except BaseException:
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE and not conn.closed:
                conn.execute("ROLLBACK")
            raise
        finally:
            self._pool.putconn(conn)
