"""Moving a SQLite state into PostgreSQL: `monitor migrate --to postgresql://...`.

Owns the copy: every table that holds the state (feeds, entries, articles, matches,
outbox, deliveries, their parts and history, story signatures, channel schedules,
mutes and "not relevant" marks), in key order, in batches of `batch` rows, each
batch one PostgreSQL transaction of `INSERT ... ON CONFLICT DO NOTHING`. So an
interrupted copy is resumed by running it again: what is there is skipped, the rest
is copied. Ids are kept (articles, outbox rows, mutes), and the identity sequences are
moved past them. Ends with per-table counts of both sides; `TableCount.ok` is false
when they differ. Not copied: poll cycle records and daemon facts (meta: heartbeat,
rules status), which the new workers write afresh, and the web interface's search
index (SQLite-only). Must not decide whether a daemon may be running (the caller holds
the SQLite state's lock).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# (table, its key columns): the copy order (parents first, for readers of a half-done copy)
TABLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("feeds", ("url",)),
    ("entries", ("feed_url", "guid")),
    ("articles", ("id",)),
    ("matches", ("article_id", "rule")),
    ("outbox", ("id",)),
    ("deliveries", ("id",)),
    ("delivery_parts", ("delivery_id", "part")),
    ("delivery_log", ("delivery_id", "outbox_id")),
    ("story_signatures", ("article_url",)),
    ("channel_state", ("channel",)),
    ("mutes", ("id",)),
    ("feedback", ("article_id", "rule")),
)
IDENTITY = ("articles", "outbox", "mutes")


@dataclass
class TableCount:
    table: str
    source: int = 0         # rows in SQLite
    copied: int = 0         # rows written to PostgreSQL by this run
    skipped: int = 0        # rows already there (an earlier, interrupted run)
    target: int = 0         # rows in PostgreSQL afterwards

    @property
    def ok(self) -> bool:
        return self.source == self.target

    def line(self) -> str:
        verdict = "ok" if self.ok else ("MISMATCH: PostgreSQL has rows the SQLite state does not"
                                        if self.target > self.source else "MISMATCH: rows missing")
        return (f"{self.table:<17} {self.source:>8} in SQLite, {self.copied:>8} copied, {self.skipped:>8} already "
                f"there, {self.target:>8} in PostgreSQL  {verdict}")


def _columns_sqlite(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def _batches(conn: sqlite3.Connection, table: str, cols: Sequence[str], key: Sequence[str],
             batch: int) -> Iterator[list[tuple]]:
    """The table's rows in key order, `batch` at a time (keyset pagination: linear, whatever its size)."""
    names = ", ".join(cols)
    order = ", ".join(key)
    last: tuple | None = None
    idx = [cols.index(k) for k in key]
    while True:
        if last is None:
            rows = conn.execute(f"SELECT {names} FROM {table} ORDER BY {order} LIMIT ?", [batch]).fetchall()
        else:
            after = f"({order}) > ({', '.join('?' * len(key))})"
            rows = conn.execute(f"SELECT {names} FROM {table} WHERE {after} ORDER BY {order} LIMIT ?",
                                [*last, batch]).fetchall()
        if not rows:
            return
        yield rows
        last = tuple(rows[-1][i] for i in idx)
        if len(rows) < batch:
            return


def copy_state(source: Path, target: Any, *, batch: int = 1000,
               progress: Callable[[TableCount], None] = lambda c: None) -> list[TableCount]:
    """Copy the SQLite state at `source` into the PostgreSQL store `target` (a migrated PgStore)."""
    conn = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    counts: list[TableCount] = []
    try:
        present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table, key in TABLES:
            count = TableCount(table)
            if table in present:
                pg_cols = {r["column_name"] for r in target.rows(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                    "AND table_name = ?", [table])}
                cols = [c for c in _columns_sqlite(conn, table) if c in pg_cols]
                count.source = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                _copy_table(conn, target, table, cols, key, batch, count)
            count.target = target.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            counts.append(count)
            progress(count)
    finally:
        conn.close()
    _move_sequences(target)
    return counts


def _copy_table(conn: sqlite3.Connection, target: Any, table: str, cols: list[str], key: Sequence[str],
                batch: int, count: TableCount) -> None:
    insert = (f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) "
              "ON CONFLICT DO NOTHING")
    for rows in _batches(conn, table, cols, key, batch):
        with target.transaction():
            pg = target.db.conn
            with pg.cursor() as cur:
                cur.executemany(insert, rows)       # pipelined; rowcount: the rows this batch wrote
                written = max(cur.rowcount, 0)
        count.copied += written
        count.skipped += len(rows) - written


def _move_sequences(target: Any) -> None:
    """Identity columns continue after the copied ids (else the next insert would collide)."""
    for table in IDENTITY:
        target.db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                          f"GREATEST((SELECT max(id) FROM {table}), 1), (SELECT max(id) FROM {table}) IS NOT NULL)")
