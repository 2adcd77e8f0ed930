"""The PostgreSQL state: `PgStore`, the same queries as `Store` over a psycopg 3 pool.

`PgStore` is a `Store` (every query module, unchanged) whose connection layer is
`PgBase` (pg_base.py): so code typed against `Store` takes either backend. Chosen by
`state.url` in the config (store/open.py). Must not hold queries of its own: SQL that
differs between the databases lives in the query modules, behind `self.dialect`.
"""

from __future__ import annotations

from monitor.store.pg_base import PgBase, close_pools, masked
from monitor.store.pg_schema import PG_MIGRATIONS
from monitor.store.sqlite import Store

__all__ = ["PG_MIGRATIONS", "PgStore", "close_pools", "masked"]


class PgStore(PgBase, Store):
    """A handle on a PostgreSQL state database (see PgBase for connections and units of work)."""
