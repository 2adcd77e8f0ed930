"""A raw PostgreSQL handle in a schema of its own, for the lease and story-index SQL tests.

The real server at 127.0.0.1:5432 (trust auth, database `test`), shared with other test runs:
every handle set lives in a fresh schema dropped afterwards. `RawPg` offers what
store/leases.py and store/storyindex.py use of a Store (`dialect`, `db.execute` with `?`
placeholders, `transaction()`), so their PostgreSQL SQL (SKIP LOCKED, advisory locks, the
database clock) runs for real without the full PostgreSQL store.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from monitor.store.schema import statements
from monitor.store.workers_schema import WORKER_MIGRATIONS

DSN = os.environ.get("MONITOR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

# the columns of feeds and story_signatures the lease and story SQL reads (SQLite's migrations 1-9)
BASE = """
CREATE TABLE feeds (
    url TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '', tags TEXT NOT NULL DEFAULT '[]',
    interval_minutes INTEGER, full_text INTEGER NOT NULL DEFAULT 1, etag TEXT, last_modified TEXT,
    next_poll TEXT NOT NULL DEFAULT '', state TEXT NOT NULL DEFAULT 'active', moved_from TEXT,
    error_count INTEGER NOT NULL DEFAULT 0, entries_seen INTEGER NOT NULL DEFAULT 0, added TEXT NOT NULL DEFAULT ''
);
CREATE TABLE story_signatures (
    article_url TEXT PRIMARY KEY, story_url TEXT NOT NULL, fingerprint TEXT NOT NULL, minhash BYTEA NOT NULL,
    published TEXT NOT NULL, seen TEXT, level TEXT NOT NULL DEFAULT 'copy', terms BYTEA
)
"""


def available() -> bool:
    try:
        psycopg.connect(DSN, connect_timeout=3).close()
        return True
    except psycopg.Error:
        return False


class RawPg:
    """One autocommit connection in `schema`; `transaction()` is BEGIN ... COMMIT."""

    dialect = "postgresql"

    def __init__(self, schema: str):
        self.conn = psycopg.connect(DSN, autocommit=True)
        self.conn.execute(f'SET search_path TO "{schema}"')
        self.db = self

    def execute(self, sql: str, params=()):
        return self.conn.execute(sql.replace("?", "%s"), list(params))

    def raw(self, sql: str, params: dict):
        return self.conn.execute(sql, params)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.conn.transaction():
            yield

    def close(self) -> None:
        self.conn.close()


@contextmanager
def pg_schema() -> Iterator[str]:
    """A fresh schema with the base tables and the worker migrations; dropped afterwards."""
    name = f"t_leases_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
        conn.execute(f'SET search_path TO "{name}"')
        for script in (BASE, *WORKER_MIGRATIONS):
            for st in statements(script):
                conn.execute(st)
    try:
        yield name
    finally:
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')
