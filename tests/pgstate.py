"""The two state backends for tests: a SQLite file, or a PostgreSQL schema of its own.

PostgreSQL is the real server at 127.0.0.1:5432 (trust auth, database `test`; override
with MONITOR_TEST_PG). Each test gets a fresh schema named after its process and a random
suffix, dropped afterwards, so tests of several worktrees run at once on one server
without meeting. An unreachable server FAILS the PostgreSQL tests (CI starts it; `.ci/run`).

Fixtures (in conftest.py): `pg_url` (a fresh schema's URL), `state_target` (parametrised
over both backends: `.open()`, `.yaml()`, `.backend`), `backend` (its name).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from monitor.store.sqlite import Store

PG_ADMIN_URL = os.environ.get("MONITOR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgresql")


def _admin():
    import psycopg
    try:
        return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({exc}); the PostgreSQL tests need it "
                    "running (`.ci/run` starts it: pg_ctlcluster ... main start)", pytrace=False)


def schema_url(schema: str) -> str:
    sep = "&" if "?" in PG_ADMIN_URL else "?"
    return f"{PG_ADMIN_URL}{sep}options={quote(f'-csearch_path={schema}')}"


class PgSchema:
    """One throwaway schema: created now, dropped (with its pools closed) by `drop()`."""

    def __init__(self) -> None:
        self.name = f"t{os.getpid()}_{uuid.uuid4().hex[:10]}"
        with _admin() as conn:
            conn.execute(f'CREATE SCHEMA "{self.name}"')
        self.url = schema_url(self.name)

    def drop(self) -> None:
        from monitor.store.pg_base import close_pools
        close_pools(self.url)
        with _admin() as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')


@dataclass
class StateTarget:
    """Where a test's state lives, and how to open it or name it in a config."""

    backend: str
    path: Path
    url: str | None = None

    def open(self, **kw: Any) -> Store:
        if self.url is not None:
            from monitor.store.postgres import PgStore
            return PgStore(self.url, **kw)
        return Store(self.path, **kw)

    def yaml(self, digests_dir: str | None = None) -> str:
        """The config's `state:` section for this backend."""
        key = f"url: {self.url!r}" if self.url is not None else f"path: {str(self.path)!r}"
        extra = f"\n  digests_dir: {digests_dir!r}" if digests_dir else ""
        return f"state:\n  {key}{extra}\n"


def ago(dialect: str, column: str, days: int) -> str:
    """SQL moving an ISO-text time column `days` into the past, in the store's dialect."""
    if dialect == "postgresql":
        return (f"to_char(((({column})::timestamptz - interval '{int(days)} days') AT TIME ZONE 'UTC'), "
                "'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"')")
    return f"strftime('%Y-%m-%dT%H:%M:%S+00:00', {column}, '-{int(days)} days')"
