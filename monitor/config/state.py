"""The `state:` section's choice of backend: SQLite at `state.path`, or PostgreSQL.

Owns `PostgresSettings` (`state.url` or `state.url_env`, `state.password_env`,
`state.pool_size`) and its checks with FILE:LINE:COL messages: at most one of `path`,
`url`, `url_env`; a URL that is a PostgreSQL one; variable names that are names. The
secrets stay in the environment: `url_env` names a variable holding the whole URL,
`password_env` one holding the password (libpq's own PGPASSWORD and ~/.pgpass work too).
`resolve` reads them when the store is opened, so a config still loads on a machine
without them. Must not connect to anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from monitor.config.http import ENV_NAME
from monitor.errors import StateError

STATE_KEYS = {"path", "url", "url_env", "password_env", "pool_size", "synchronous_commit", "digests_dir"}
SCHEMES = ("postgresql://", "postgres://")


@dataclass(frozen=True)
class PostgresSettings:
    url: str = ""                 # state.url: postgresql://user@host:5432/db (no password here, preferably)
    url_env: str = ""             # state.url_env: the variable holding the whole URL instead
    password_env: str = ""        # state.password_env: the variable holding the password
    pool_size: int = 4            # connections per process (statements borrow one while they run)
    synchronous_commit: bool = False   # off: SQLite's WAL + synchronous=NORMAL durability (see docs)
    where: str = ""               # FILE:LINE of the url / url_env key, for messages

    def resolve(self) -> tuple[str, str | None]:
        """(URL, password or None) from the config and the environment; StateError naming what is unset."""
        url = self.url
        if self.url_env:
            url = os.environ.get(self.url_env, "")
            if not url:
                raise StateError(f"{self.where}: state.url_env names the environment variable {self.url_env}, "
                                 "which is not set (or empty) in this environment")
            if not url.startswith(SCHEMES):
                raise StateError(f"{self.where}: the environment variable {self.url_env} does not hold a "
                                 "postgresql:// URL")
        password = None
        if self.password_env:
            password = os.environ.get(self.password_env) or None
            if password is None:
                raise StateError(f"{self.where}: state.password_env names the environment variable "
                                 f"{self.password_env}, which is not set (or empty) in this environment")
        return url, password

    def missing_env(self) -> list[str]:
        """`FILE:LINE: ...` for each named variable that is unset (config check warns, run refuses)."""
        out = []
        for key in ("url_env", "password_env"):
            name = getattr(self, key)
            if name and not os.environ.get(name):
                out.append(f"{self.where}: state.{key} names the environment variable {name}, which is not "
                           "set (or empty) in this environment")
        return out


def parse_postgres(c: Any, state: dict) -> PostgresSettings | None:
    """The PostgreSQL settings of a `state:` mapping, or None for SQLite (c is the config's Checker)."""
    chosen = [k for k in ("path", "url", "url_env") if k in state]
    if len(chosen) > 1:
        c.err(state[chosen[1]], f"state: give one of path (SQLite), url or url_env (PostgreSQL), not "
              f"{' and '.join(chosen)}", state, chosen[1])
        return None
    for key in ("password_env", "pool_size", "synchronous_commit"):
        if key in state and not ({"url", "url_env"} & set(state)):
            c.err(state[key], f"state.{key} is for PostgreSQL: it needs state.url or state.url_env", state, key)
    if not ({"url", "url_env"} & set(state)):
        return None
    url = str(c.typed(state, "url", str, "") or "")
    url_env = str(c.typed(state, "url_env", str, "") or "")
    password_env = str(c.typed(state, "password_env", str, "") or "")
    pool_size = c.typed(state, "pool_size", int, 4)
    synchronous = bool(c.typed(state, "synchronous_commit", bool, False))
    if "url" in state and not url.startswith(SCHEMES):
        c.err(state["url"], f"state.url must be a PostgreSQL URL (postgresql://user@host:5432/dbname), got "
              f"{url!r}; for SQLite use state.path", state, "url")
    for key, value in (("url_env", url_env), ("password_env", password_env)):
        if key in state and not ENV_NAME.match(value):
            c.err(state[key], f"state.{key} names an environment variable, e.g. MONITOR_DB_"
                  f"{'URL' if key == 'url_env' else 'PASSWORD'}", state, key)
    if isinstance(pool_size, int) and not 1 <= pool_size <= 100:
        c.err(state.get("pool_size"), f"state.pool_size must be between 1 and 100, got {pool_size}",
              state, "pool_size")
    key = "url" if "url" in state else "url_env"
    return PostgresSettings(url=url, url_env=url_env, password_env=password_env,
                            pool_size=pool_size if isinstance(pool_size, int) else 4, synchronous_commit=synchronous,
                            where=c.where(state[key], state, key))
