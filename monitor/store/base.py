"""One connection to the state database: opening it, migrating, and units of work.

Owns the sqlite3 connection (WAL, a busy timeout), the transaction discipline and the
small helpers every query module uses (`rows`, `_insert`, `_update`), plus the time
format stored in every table. A connection belongs to the thread that opened it
(sqlite3 enforces this), and `transaction()` belongs to one unit of work: a nested
`transaction()` from the same job is a savepoint inside it, one from another job
(another asyncio task) raises `TransactionConflict` instead of silently joining.
Each job opens its own connection (`Store.session()`), so jobs never share one.
Must not hold queries about feeds, articles or deliveries (the modules beside it do).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from monitor.errors import StateError
from monitor.models import Entry
from monitor.store.dialect import SQLITE, Dialect
from monitor.store.schema import MIGRATIONS, statements


def _import_sqlite_utils() -> Any:
    """sqlite-utils, imported without numpy unless numpy is loaded already.

    sqlite-utils imports numpy when it is installed, only to map numpy column types on insert
    (monitor never inserts numpy values): about 70 ms of every command's start-up, `status`
    included. Hidden for that one import, numpy stays importable for whoever needs it later.
    """
    import sys
    if "numpy" in sys.modules:
        import sqlite_utils
        return sqlite_utils
    sys.modules["numpy"] = None  # type: ignore[assignment]   # makes `import numpy` raise ImportError
    try:
        import sqlite_utils
    finally:
        del sys.modules["numpy"]
    return sqlite_utils


if TYPE_CHECKING:
    import sqlite_utils
else:
    sqlite_utils = _import_sqlite_utils()

BUSY_TIMEOUT_SECONDS = 30.0


# the write-ahead log's size on disk once a checkpoint has let it restart (bench/soak.py: it
# stayed at 170 MiB beside a 38 MiB database after the first retention runs of 1,000 feeds)
WAL_SIZE_LIMIT = 64 * 1024 * 1024


def now_utc() -> datetime:
    return datetime.now(UTC)


@overload
def iso(t: datetime) -> str: ...
@overload
def iso(t: None) -> None: ...
@overload
def iso(t: datetime | None) -> str | None: ...
def iso(t: datetime | None) -> str | None:
    return t.astimezone(UTC).isoformat(timespec="seconds") if t else None


def parse_iso(s: str | None) -> datetime | None:
    return datetime.fromisoformat(s) if s else None


def db_bytes(path: Path) -> int:
    """The state database's size on disk: the file and its write-ahead log."""
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def entry_stamp(e: Entry) -> str | None:
    """The time a feed claims for an entry: its update time, else its publication time."""
    return iso(e.updated or e.published)


def state_error(path: Path, exc: BaseException) -> StateError:
    """A StateError that names the database file, says what is wrong and what to do."""
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    low = reason.lower()
    if "not a database" in low or "malformed" in low or "corrupt" in low:
        hint = ("the file is damaged or is not a monitor database: restore a backup, or move it aside "
                "and monitor starts a new one (sent items are then forgotten)")
    elif "readonly" in low or "read-only" in low or "unable to open" in low or "permission" in low:
        hint = (f"check that {path} and its folder are writable by this user (SQLite writes "
                f"{path.name}-wal and {path.name}-shm beside it)")
    elif "locked" in low or "busy" in low:
        hint = "another process holds it locked"
    else:
        hint = "see state.path in the config"
    return StateError(f"state database {path}: {reason}; {hint}")


class StateUnavailable(StateError):
    """A read-only command found no database, or one of another schema version."""


class TransactionConflict(RuntimeError):
    """A job tried to enter a transaction that another job holds open on the same connection."""


def _unit_of_work() -> tuple[int, asyncio.Task | None]:
    """Who is running: the thread and, on an event loop, the task (each job is a task)."""
    try:
        task = asyncio.current_task()
    except RuntimeError:
        task = None
    return threading.get_ident(), task


def _has_content(path: Path) -> bool:
    """Whether the database file exists with pages in it (a new or empty file gets the file-level pragmas)."""
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


class StoreBase:
    """A handle on one connection; `Store` (sqlite.py) adds the queries.

    This class is the SQLite backend; `PgBase` (pg_base.py) overrides the connection,
    migration and unit-of-work hooks for PostgreSQL, and the queries ask `dialect`.
    """

    dialect: Dialect = SQLITE

    def __init__(self, path: str | Path, *, migrate: bool = True, create: bool = True):
        """Open the database; create=False never makes a file (nor migrates): see `existing`."""
        self.path = Path(path)
        self._memory = str(path) == ":memory:"
        self._tx_owner: tuple[int, asyncio.Task | None] | None = None
        self._tx_depth = 0
        self._tx_joined = 0       # units nested in a flat one, running now
        self._tx_flat = False
        conn: sqlite3.Connection | None = None
        try:
            fresh = create and (self._memory or not _has_content(self.path))
            if create and not self._memory:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            target = str(path) if create or self._memory else f"{self.path.resolve().as_uri()}?mode=rw"
            conn = sqlite3.connect(target, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None,
                                   uri=not create and not self._memory)
            self.db = sqlite_utils.Database(conn)
            if fresh:
                # a new file gets incremental vacuum (store/vacuum.py) and WAL, both kept in the
                # file; on an existing one auto_vacuum would only take effect at a full VACUUM
                # (`monitor vacuum`), and setting it waits for the write lock: a session opened
                # while another connection writes sat in the busy timeout (a warm cycle 5x slower)
                self.db.execute("PRAGMA auto_vacuum=INCREMENTAL")
            if fresh or (create and migrate):
                self.db.execute("PRAGMA journal_mode=WAL")   # kept in the file: once per process
            self.db.execute("PRAGMA synchronous=NORMAL")
            # a checkpointed log is reused from its start but keeps its size on disk: after a burst
            # (a cold cycle, a retention run) it is cut back to this when it restarts
            self.db.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            self.db.execute("PRAGMA foreign_keys=ON")
            # each statement of a unit of work that fires triggers keeps a statement journal (the pages
            # it touched, to undo it alone); past 64 KiB SQLite spills it to a temporary file: a cold
            # feed's unit wrote 1.2 MB there in 570 pwrite calls, 4x the log itself. In memory it costs
            # no system call. (`monitor vacuum` has its own connection: its copy stays in a file.)
            self.db.execute("PRAGMA temp_store=MEMORY")
            if migrate and create:
                self.migrate()
        except (sqlite3.Error, OSError) as exc:
            if conn is not None:
                conn.close()
            raise state_error(self.path, exc) from None

    @classmethod
    def existing(cls, path: str | Path) -> Any:
        """The database as it is, for read-only commands: never created, never migrated.

        Raises StateUnavailable saying what to do when there is none, or when its schema is
        older (or newer) than this code's.
        """
        path = Path(path)
        try:
            present = path.is_file()
        except OSError as exc:          # a folder this user may not enter: say so, naming the file
            raise state_error(path, exc) from None
        if not present:
            raise StateUnavailable(f"no database at {path} (`monitor run` creates it on its first start)")
        store = cls(path, create=False)
        try:
            version, wanted = store.schema_version(), len(MIGRATIONS)
        except sqlite3.DatabaseError as exc:
            store.close()
            raise StateUnavailable(f"{path} is not a monitor database: {exc}") from None
        if version != wanted:
            store.close()
            if version < wanted:
                raise StateUnavailable(f"the database at {path} has schema version {version}, this monitor needs "
                                       f"{wanted}: upgrade it with `monitor migrate` (`monitor run` also "
                                       "upgrades it on start)")
            raise StateUnavailable(f"the database at {path} has schema version {version}, newer than this "
                                   f"monitor knows ({wanted}): run the newer monitor, or restore a backup")
        return store

    # -- connections -------------------------------------------------------------
    @contextmanager
    def session(self) -> Iterator[Any]:
        """A short-lived connection of its own for one job, closed afterwards.

        An in-memory database cannot be opened twice, so there the session is this handle.
        """
        if self._memory:
            yield self
            return
        other = type(self)(self.path, migrate=False)
        try:
            yield other
        finally:
            other.close()

    def close(self) -> None:
        self.db.conn.close()

    @property
    def label(self) -> str:
        """The state as messages name it (the file here; a masked URL on PostgreSQL)."""
        return str(self.path)

    def size_bytes(self) -> int:
        """The state's size on disk (the file and its write-ahead log)."""
        return 0 if self._memory else db_bytes(self.path)

    # -- schema ------------------------------------------------------------------
    def schema_version(self) -> int:
        if "schema_version" not in self.db.table_names():
            return 0
        row = self.db.execute("SELECT max(version) FROM schema_version").fetchone()
        return row[0] or 0

    def migrate(self) -> int:
        """Apply every migration newer than the database; returns the version reached."""
        self.db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied TEXT)")
        current = self.schema_version()
        for version, script in enumerate(MIGRATIONS, start=1):
            if version <= current:
                continue
            with self.transaction():
                if self.schema_version() >= version:     # another process migrated meanwhile
                    continue
                for statement in statements(script):
                    self.db.execute(statement)
                self.db.execute("INSERT INTO schema_version VALUES (?, ?)", [version, iso(now_utc())])
        return len(MIGRATIONS)

    # -- units of work -------------------------------------------------------------
    @contextmanager
    def transaction(self, flat: bool = False) -> Iterator[None]:
        """One atomic unit of work: BEGIN IMMEDIATE ... COMMIT (PostgreSQL: BEGIN ... COMMIT), ROLLBACK on error.

        Nested inside the same job it is a savepoint (its own rollback, committed with the
        outer unit), unless the outer unit was opened `flat`: then nested units simply join
        it (no SAVEPOINT/RELEASE round trips; an error anywhere rolls the whole unit back,
        which is what a caller that never catches inside it gets anyway). Entered by another
        job while one is open, it raises TransactionConflict.
        """
        me = _unit_of_work()
        if self._tx_owner is not None:
            if self._tx_owner != me:
                raise TransactionConflict("a transaction of another job is open on this connection; "
                                          "each job uses its own connection (Store.session())")
            if self._tx_flat:
                self._tx_joined += 1
                try:
                    yield
                finally:
                    self._tx_joined -= 1
                return
            yield from self._savepoint()
            return
        if self._tx_open():
            raise TransactionConflict("a transaction opened outside Store.transaction() is in progress")
        self._tx_begin()
        self._tx_owner = me
        self._tx_flat = flat
        try:
            yield
        except BaseException:
            self._tx_owner = None
            self._tx_flat = False
            self._tx_finish(commit=False)
            raise
        try:
            self._tx_finish(commit=True)
        finally:
            self._tx_owner = None
            self._tx_flat = False

    # The backend's side of a unit of work (store/pg_base.py overrides these four).
    def _tx_open(self) -> bool:
        return self.db.conn.in_transaction

    def _tx_begin(self) -> None:
        self.db.conn.execute("BEGIN IMMEDIATE")

    def _tx_finish(self, commit: bool) -> None:
        conn = self.db.conn
        if not commit:
            conn.execute("ROLLBACK")
            return
        try:
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _savepoint(self) -> Iterator[None]:
        self._tx_depth += 1
        name = f"unit_{self._tx_depth}"
        self.db.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self.db.execute(f"ROLLBACK TO {name}")
            self.db.execute(f"RELEASE {name}")
            raise
        else:
            self.db.execute(f"RELEASE {name}")
        finally:
            self._tx_depth -= 1

    # sqlite-utils' insert/update helpers commit on their own (`with conn:`), which would end
    # an open transaction early; inside transactions we write with these two instead.
    def _insert(self, table: str, values: dict[str, Any], *, ignore: bool = False) -> int:
        """One row; with ignore, a row that would break a unique key is skipped. Returns rows written."""
        cols = ", ".join(values)
        verb = "INSERT OR IGNORE" if ignore else "INSERT"
        return self.db.execute(f"{verb} INTO {table} ({cols}) VALUES ({', '.join('?' * len(values))})",
                               list(values.values())).rowcount

    def _update(self, table: str, pk: str, key: Any, values: dict[str, Any]) -> int:
        """Set columns of the row whose `pk` is `key`; returns how many rows changed."""
        if not values:
            return 0
        sets = ", ".join(f"{c} = ?" for c in values)
        return self.db.execute(f"UPDATE {table} SET {sets} WHERE {pk} = ?", [*values.values(), key]).rowcount

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement for many parameter rows (PostgreSQL pipelines them: one round trip, not N)."""
        if rows:
            self.db.conn.executemany(sql, rows)

    def _many_returning(self, sql: str, rows: Sequence[Sequence[Any]]) -> list[list[tuple]]:
        """One statement with RETURNING for many parameter rows: each row's returned rows."""
        return [self.db.execute(sql, list(r)).fetchall() for r in rows]

    def _many_returning_later(self, sql: str, rows: Sequence[Sequence[Any]]) -> Callable[[], list[list[tuple]]]:
        """`_many_returning` whose results are read later: PostgreSQL queues the statement in the unit's
        pipeline and sends it with the next statement whose result is read (one round trip for both);
        SQLite runs it now. Call the returned function for the results."""
        out = self._many_returning(sql, rows)
        return lambda: out

    @contextmanager
    def pipelined(self) -> Iterator[None]:
        """Writes whose results nobody reads before the block ends, sent together (PostgreSQL: one
        round trip for the block, inside a unit of work; SQLite has no round trips: nothing)."""
        yield

    async def commit_async(self) -> None:
        """Last thing in a job's outermost unit of work: commit without blocking the event loop
        (PostgreSQL waits for the server in a thread; SQLite's commit is local: the unit's end)."""

    def has_column(self, table: str, column: str) -> bool:
        """Whether a table has a column (an older schema may not yet)."""
        return any(r[1] == column for r in self.db.execute(f"PRAGMA table_info({table})"))

    def rows(self, sql: str, params: Sequence[Any] | dict = ()) -> list[dict]:
        cur = self.db.execute(sql, params)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]
