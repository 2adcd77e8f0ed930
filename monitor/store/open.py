"""Which store a config names, opened: SQLite at `state.path`, or PostgreSQL at `state.url`.

Owns the one choice of backend for every command and the daemon (`open_store`,
`existing_store`), whether a state exists yet, and how to name it in messages (a
PostgreSQL URL with its password masked). PostgreSQL (psycopg) is imported only when chosen,
and each backend only when a store is opened (commands start fast). Must not hold queries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from monitor.config.settings import Config

if TYPE_CHECKING:
    from monitor.store.sqlite import Store


def is_postgres(cfg: Config) -> bool:
    return cfg.postgres is not None


def _pg(cfg: Config, **kw: Any) -> Store:
    from monitor.store.postgres import PgStore
    assert cfg.postgres is not None
    url, password = cfg.postgres.resolve()
    return PgStore(url, password=password, pool_size=cfg.postgres.pool_size,
                   synchronous_commit=cfg.postgres.synchronous_commit, **kw)


def open_store(cfg: Config, *, migrate: bool = True) -> Store:
    """The config's state, created and migrated when needed (migrate=False: as it is, for a daemon's jobs)."""
    if cfg.postgres is not None:
        return _pg(cfg, migrate=migrate)
    from monitor.store.sqlite import Store
    return Store(cfg.state_path, migrate=migrate)


def existing_store(cfg: Config) -> Store:
    """The state for a read-only command: never created nor migrated; StateUnavailable saying why not."""
    if cfg.postgres is not None:
        from monitor.store.postgres import PgStore
        url, password = cfg.postgres.resolve()
        return PgStore.existing(url, password=password, pool_size=cfg.postgres.pool_size,
                                synchronous_commit=cfg.postgres.synchronous_commit)
    from monitor.store.sqlite import Store
    return Store.existing(cfg.state_path)


def state_exists(cfg: Config) -> bool:
    """Whether the state holds a monitor schema yet (SQLite: the file is there)."""
    if cfg.postgres is None:
        return cfg.state_path.exists()
    store = _pg(cfg, migrate=False, create=False)
    try:
        return store.schema_version() > 0
    finally:
        store.close()


def state_label(cfg: Config) -> str:
    """The state as messages name it: the SQLite file, or the PostgreSQL URL without its password."""
    if cfg.postgres is None:
        return str(cfg.state_path)
    from monitor.store.pg_base import masked
    return masked(cfg.postgres.url) if cfg.postgres.url else f"${cfg.postgres.url_env}"
