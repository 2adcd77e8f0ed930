"""The SQLite state, through sqlite-utils: `Store`, one connection with every query.

`Store` is assembled from one module per concern, each owning its tables' SQL:
base (the connection, migrations, units of work), schema (the migrations), feeds,
articles (entries, articles, matches, what a poll queues), deliveries (outbox and
deliveries), parts (a delivery's saved messages, duplicates per channel), stories (signatures, story ids) and housekeeping (retention, cycles,
meta, counts). Callers get plain dicts and dataclasses, never cursors. Must not do
network I/O, parsing or matching.
"""

from __future__ import annotations

from monitor.store.articles import ArticleQueries
from monitor.store.base import (
    StateUnavailable,
    TransactionConflict,
    db_bytes,
    entry_stamp,
    iso,
    now_utc,
    parse_iso,
)
from monitor.store.deliveries import DeliveryQueries
from monitor.store.feeds import FeedQueries
from monitor.store.housekeeping import HousekeepingQueries
from monitor.store.parts import DeliveryParts
from monitor.store.schema import MIGRATIONS
from monitor.store.stories import StoryQueries

__all__ = ["MIGRATIONS", "StateUnavailable", "Store", "TransactionConflict", "db_bytes", "entry_stamp", "iso", "now_utc",
           "parse_iso"]


class Store(FeedQueries, ArticleQueries, DeliveryQueries, DeliveryParts, StoryQueries, HousekeepingQueries):
    """A handle on the state database: one connection, used by one job on one thread.

    A job that runs beside others opens its own with `store.session()`.
    """
