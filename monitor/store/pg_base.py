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
so workers starting together migrate once. The pools, masked errors and `Result` are
pg_pool.py's. Must not hold queries about the tables.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import PoolTimeout

from monitor.errors import StateError
from monitor.store.base import StateUnavailable, StoreBase, TransactionConflict, _unit_of_work, iso, now_utc
from monitor.store.dialect import POSTGRES, Dialect, to_postgres
from monitor.store.pg_pool import DEFAULT_POOL_SIZE, Result, close_pools, masked, pg_error, pool_for
from monitor.store.pg_schema import NATURAL_KEYS, PG_MIGRATIONS, pg_statements

__all__ = ["DEFAULT_POOL_SIZE", "PgBase", "PgDatabase", "Result", "close_pools", "masked", "pg_error", "pool_for"]

_waiters: ThreadPoolExecutor | None = None
_waiters_lock = threading.Lock()


# A batch insert written as one statement with a VALUES row per parameter set (`_one_insert`): the
# statement's head with its column list, the one row's placeholders, the rest (ON CONFLICT ...)
_INSERT_VALUES = re.compile(r"^(INSERT INTO \w+ (?:\(([^()]*)\) )?VALUES )(\((?:%s, ?)*%s\))(.*)$", re.S)
_DO_UPDATE = re.compile(r"ON CONFLICT\s*\(([^()]*)\)\s*DO UPDATE", re.S)
_MAX_PARAMS = 30000         # PostgreSQL takes at most 65,535 parameters in one statement


def _one_insert(sql: str, rows: list[list[Any]]) -> list[tuple[str, list[Any]]] | None:
    """`INSERT ... VALUES (%s, ...) [ON CONFLICT ...]` for many rows as one statement per chunk of rows
    (`VALUES (...), (...)`), or None where that would not do what one statement per row does: not such
    an INSERT, or ON CONFLICT ... DO UPDATE with two rows of the same conflict key (PostgreSQL refuses to
    update a row twice in one statement). One statement instead of a pipelined one per row: planned and
    run once on the server, and psycopg's per-row work on the client gone (bench/roundtrips.py)."""
    m = _INSERT_VALUES.match(sql)
    if m is None or len(rows) < 2:
        return None
    head, columns, row, tail = m.groups()
    width = row.count("%s")
    if any(len(r) != width for r in rows):
        return None
    update = _DO_UPDATE.search(tail)
    if update is not None:
        if columns is None:
            return None
        names = [c.strip() for c in columns.split(",")]
        try:
            at = [names.index(c.strip()) for c in update.group(1).split(",")]
        except ValueError:
            return None
        keys = {tuple(r[i] for i in at) for r in rows}
        if len(keys) != len(rows):
            return None
    per = max(1, _MAX_PARAMS // max(1, width))
    out = []
    for start in range(0, len(rows), per):
        chunk = rows[start:start + per]
        out.append((head + ", ".join([row] * len(chunk)) + tail, [v for r in chunk for v in r]))
    return out


_INSERT_RETURNING = re.compile(r"^INSERT INTO (\w+) \(([^()]*)\) (?:VALUES \(((?:%s, ?)*%s)\)|SELECT ((?:%s, ?)*%s)"
                               r"(?: WHERE (.+?))?) ON CONFLICT DO NOTHING RETURNING (\w+)$", re.S)


def _one_insert_returning(sql: str, rows: list[list[Any]]) -> tuple[str, list[Any], Callable] | None:
    """`INSERT INTO t (...) VALUES (%s, ...) | SELECT %s, ... [WHERE cond] ON CONFLICT DO NOTHING RETURNING id`
    for many rows as one statement (`SELECT * FROM (VALUES (...), (...)) WHERE cond`), with the function
    that turns its rows into what one statement per row returns (per row `[(id,)]`, or `[]` where it was
    not inserted: its key stored already, an earlier row of the batch with the same key, or `cond`
    false). Only for a table of `NATURAL_KEYS`, whose key column is among those inserted; else None."""
    m = _INSERT_RETURNING.match(sql)
    if m is None or len(rows) < 2:
        return None
    table, columns, values, select, cond, returned = m.groups()
    names = [c.strip() for c in columns.split(",")]
    key = NATURAL_KEYS.get(table)
    if key is None or key not in names or key == returned:
        return None
    width = (values or select).count("%s")
    if width != len(names) or any(len(r) != width or r[names.index(key)] is None for r in rows):
        return None
    if len(rows) * width > _MAX_PARAMS:
        return None
    at = names.index(key)
    one = ", ".join(["(" + ",".join(["%s"] * width) + ")"] * len(rows))
    statement = (f"INSERT INTO {table} ({columns}) SELECT * FROM (VALUES {one}) AS v ({columns})"
                 + (f" WHERE {cond}" if cond else "") + f" ON CONFLICT DO NOTHING RETURNING {returned}, {key}")

    def per_row(got: list[tuple]) -> list[list[tuple]]:
        ids = {k: i for i, k in got}
        out = []
        for r in rows:
            i = ids.pop(r[at], None)        # popped: a later row with the same key was not inserted
            out.append([(i,)] if i is not None else [])
        return out
    return statement, [v for r in rows for v in r], per_row


def _waiter() -> ThreadPoolExecutor:
    """The threads that wait for a unit's COMMIT (`PgBase.commit_async`), the process's own (not the
    loop's default executor, which the extraction pool's exchanges occupy)."""
    global _waiters
    with _waiters_lock:
        if _waiters is None:
            _waiters = ThreadPoolExecutor(max_workers=2, thread_name_prefix="monitor-pg-commit")
        return _waiters


class PgDatabase:
    """`store.db` on PostgreSQL: `execute` in the queries' shared spelling, and `table_names`."""

    def __init__(self, store: PgBase):
        self._store = store

    @property
    def conn(self) -> psycopg.Connection | None:
        """The connection of the open unit of work, if any (between statements there is none); out of
        pipeline mode, what the unit had queued (its BEGIN) sent first, so its results read as usual."""
        self._store._sync()
        return self._store._conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        return self._store._run(to_postgres(sql), list(params))

    def execute_then(self, sql: str, params: Sequence[Any], then: Callable[[], Any]) -> Result:
        """Inside a unit of work: `execute`, with the statements `then()` queues sent after it in the
        same round trip (one sync for all); the statement's result is read when all went out."""
        return self._store._run_then(to_postgres(sql), list(params), then)

    def raw(self, sql: str, params: dict[str, Any]) -> Result:
        """A statement already in PostgreSQL's spelling, with named `%(name)s` parameters (a query
        only PostgreSQL runs, such as the one-statement claim of store/leases.py)."""
        return self._store._run(sql, params)

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
        self._tx_joined = 0
        self._tx_flat = False
        self._conn: psycopg.Connection | None = None
        self._pipe: Any = None              # the unit's open pipeline (psycopg), if any: see `pipelined`
        self._pipe_blocks = 0               # `pipelined()` blocks running now
        self._committed = False             # `commit_async` committed the open unit: its end only releases
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
    def _run(self, sql: str, params: list[Any] | dict[str, Any]) -> Result:
        if self._conn is not None:
            if self._tx_owner is not None and self._tx_owner != _unit_of_work():
                raise TransactionConflict("a statement from another job while a transaction is open on this "
                                          "handle; each job uses its own (Store.session())")
            cur = self._conn.execute(sql, params)
            if self._pipe is not None and not self._pipe_blocks:
                self._sync()        # with what was queued before it (BEGIN, a pipelined block): one round trip
            return Result(cur)
        try:
            with self._pool.connection() as conn:
                return Result(conn.execute(sql, params))
        except PoolTimeout as exc:
            raise pg_error(self.url, exc) from None

    def _run_then(self, sql: str, params: list[Any], then: Callable[[], Any]) -> Result:
        if self._conn is None:
            raise StateError("execute_then outside a unit of work")
        if self._tx_owner is not None and self._tx_owner != _unit_of_work():
            raise TransactionConflict("a statement from another job while a transaction is open on this "
                                      "handle; each job uses its own (Store.session())")
        self._pipeline_on()
        cur = self._conn.cursor()
        cur.execute(sql, params)
        self._pipe_blocks += 1          # what then() runs is queued, not synced one by one
        try:
            then()
        finally:
            self._pipe_blocks -= 1
        if not self._pipe_blocks:
            self._sync()
        return Result(cur)

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if self._conn is not None:
            if self._tx_owner is not None and self._tx_owner != _unit_of_work():
                raise TransactionConflict("a statement from another job while a transaction is open on this "
                                          "handle; each job uses its own (Store.session())")
            self._many_on(self._conn, to_postgres(sql), [list(r) for r in rows])
            if self._pipe is not None and not self._pipe_blocks:
                self._sync()        # outside a pipelined block an error surfaces here, as without a pipeline
            return
        with self._pool.connection() as conn:
            self._many_on(conn, to_postgres(sql), [list(r) for r in rows], autocommit=True)

    @staticmethod
    def _many_on(conn: psycopg.Connection, sql: str, rows: list[list[Any]], autocommit: bool = False) -> None:
        """Rows of one statement on a connection: a batch insert as one statement (`_one_insert`), else
        psycopg's executemany (pipelined: one message per row, no round trip each)."""
        one = _one_insert(sql, rows)
        if one is None:
            with conn.cursor() as cur:
                cur.executemany(sql, rows)
        elif autocommit and len(one) > 1:
            with conn.transaction():        # the chunks of one batch commit together
                for statement, params in one:
                    conn.execute(statement, params)
        else:
            for statement, params in one:
                conn.execute(statement, params)

    def _many_returning(self, sql: str, rows: Sequence[Sequence[Any]]) -> list[list[tuple]]:
        if not rows:
            return []
        if self._conn is None:              # outside a unit of work: as one, so the results stay together
            with self.transaction():
                return self._many_returning(sql, rows)
        return self._many_returning_later(sql, rows)()     # read now: by a flush of the pipeline, no Sync

    def _many_returning_later(self, sql: str, rows: Sequence[Sequence[Any]]) -> Callable[[], list[list[tuple]]]:
        """Inside a unit of work: queued in its pipeline, not sent; the results are read when the returned
        function is called (by then the next statement read, or COMMIT, has brought them, or a flush does)."""
        if not rows:
            return list
        if self._conn is None:
            out = self._many_returning(sql, rows)
            return lambda: out
        if self._tx_owner is not None and self._tx_owner != _unit_of_work():
            raise TransactionConflict("a statement from another job while a transaction is open on this "
                                      "handle; each job uses its own (Store.session())")
        self._pipeline_on()         # riding the unit's pipeline
        cur = self._conn.cursor()
        one = _one_insert_returning(to_postgres(sql), [list(r) for r in rows])
        if one is not None:         # one statement for the batch, not a pipelined one per row
            statement, params, per_row = one
            cur.execute(statement, params)

            def one_result() -> list[list[tuple]]:
                with cur:
                    return per_row(list(cur.fetchall()))
            return one_result
        cur.executemany(to_postgres(sql), [list(r) for r in rows], returning=True)

        def results() -> list[list[tuple]]:
            out: list[list[tuple]] = []
            with cur:
                while True:
                    out.append(list(cur.fetchall()) if cur.description is not None else [])
                    if not cur.nextset():
                        break
            return out
        return results

    @contextmanager
    def pipelined(self) -> Iterator[None]:
        """Inside a unit of work, the block's statements go out in psycopg's pipeline mode, queued
        with the unit's later ones: they are sent and synced with the next statement whose result is
        read after the block, or with COMMIT (so a feed's rows, its story signatures and COMMIT are
        one round trip). An error in one surfaces there, inside the unit, which then rolls back as it
        would have. Only for writes whose results nothing reads within the block: a statement run
        inside it returns before its result is there (no rows, no rowcount)."""
        if self._conn is None:
            yield
            return
        self._pipeline_on()
        self._pipe_blocks += 1
        try:
            yield
        finally:
            self._pipe_blocks -= 1

    async def commit_async(self) -> None:
        """Last thing in the outermost unit of work of a job on the event loop: COMMIT now, with what the
        unit's pipeline has queued (a feed's rows and story signatures), and wait for the server in a
        thread, so the loop runs the other jobs (fetching, parsing) meanwhile instead of blocking on
        the round trip. The unit's end then only gives the connection back; an error raises here,
        inside the unit, which rolls back as it would have. Cancelled while the COMMIT is out, it
        waits for its outcome first (one round trip), so the unit's end knows whether it committed."""
        conn = self._conn
        if conn is None or self._tx_owner != _unit_of_work() or self._tx_depth or self._tx_joined:
            return                          # not the outermost unit: it commits at its end, as usual
        self._pipeline_on()
        conn.execute("COMMIT")              # queued in the pipeline, sent by the sync below
        pipe, self._pipe = self._pipe, None
        self._pipe_blocks = 0
        done = _waiter().submit(pipe.__exit__, None, None, None)
        try:
            await asyncio.wrap_future(done)
        except asyncio.CancelledError:
            try:
                done.result()
            except psycopg.Error:
                raise asyncio.CancelledError from None
            self._committed = True
            raise
        self._committed = True

    def _pipeline_on(self) -> None:
        """The unit's connection in pipeline mode (statements queue until the next sync)."""
        if self._pipe is None and self._conn is not None:
            pipe = self._conn.pipeline()
            pipe.__enter__()
            self._pipe = pipe

    def _sync(self, *, quiet: bool = False) -> None:
        """Send what the pipeline queued and wait for all of it (one round trip); leave pipeline mode.

        An error of any queued statement is raised here (`quiet`: ignored, the unit is rolling back)."""
        pipe, self._pipe = self._pipe, None
        if pipe is None:
            return
        try:
            pipe.__exit__(None, None, None)
        except psycopg.Error:
            if not quiet:
                raise

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
            self._sync(quiet=True)
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
        """BEGIN is queued in the unit's pipeline, not sent: it goes out with the unit's first statement
        whose result is read (one round trip for both)."""
        try:
            conn = self._pool.getconn()
        except PoolTimeout as exc:
            raise pg_error(self.url, exc) from None
        self._conn = conn
        try:
            self._pipeline_on()
            conn.execute("BEGIN")
        except BaseException:
            self._sync(quiet=True)
            self._conn = None
            self._pool.putconn(conn)
            raise

    def _tx_finish(self, commit: bool) -> None:
        conn = self._conn
        if conn is None:
            return
        self._pipe_blocks = 0
        if self._committed:                 # by commit_async: nothing left to send
            self._committed = False
            self._conn = None
            self._pool.putconn(conn)
            return
        try:
            if commit:
                conn.execute("COMMIT")      # in the pipeline when one is open: with what is queued, one sync
                self._sync()
            else:
                self._sync(quiet=True)      # what was queued is sent; its errors do not matter now
                conn.execute("ROLLBACK")
        except BaseException:
            self._sync(quiet=True)
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE and not conn.closed:
                conn.execute("ROLLBACK")
            raise
        finally:
            self._conn = None
            self._pool.putconn(conn)
