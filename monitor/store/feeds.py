"""Queries about feeds: the configured list, due feeds, their health and moves.

Owns the feeds table (and moving a feed's entries when it moves). Must not decide when a
feed is polled next (ingest/polling.py does) or fetch anything.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from monitor.store.base import StoreBase, iso, now_utc
from monitor.store.retry import retried


class FeedQueries(StoreBase):
    """The feeds table."""

    @retried
    def sync_feeds(self, feeds: Iterable[Any]) -> None:
        """Make the feeds table hold the configured feeds (keeping their history).

        One read of the table and two batched statements (pipelined on PostgreSQL), not two
        round trips per configured feed: a worker with 3,000 feeds starts in one go."""
        now = iso(now_utc())
        with self.transaction():
            by_url: dict[str, str] = {}
            moved: dict[str, str] = {}
            for url, moved_from in self.db.execute("SELECT url, moved_from FROM feeds"):
                by_url[url] = url
                if moved_from:
                    moved.setdefault(moved_from, url)
            updates: list[list[Any]] = []
            inserts: list[list[Any]] = []
            for f in feeds:
                values = [f.name, json.dumps(list(f.tags)), f.interval_minutes, int(f.full_text)]
                existing = by_url.get(f.url) or moved.get(f.url)
                if existing:
                    updates.append([*values, existing])     # a feed put back into the config is polled again
                else:
                    inserts.append([f.url, now, "", *values])
            self._many("UPDATE feeds SET name = ?, tags = ?, interval_minutes = ?, full_text = ?, "
                       "state = CASE WHEN state = 'removed' THEN 'active' ELSE state END WHERE url = ?", updates)
            # ignore: another worker on the same PostgreSQL may have added it meanwhile
            self._many("INSERT OR IGNORE INTO feeds (url, added, next_poll, name, tags, interval_minutes, full_text) "
                       "VALUES (?,?,?,?,?,?,?)", inserts)

    def _feed_rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict]:
        """Feed rows with their tags decoded from JSON."""
        rows = self.rows(sql, params)
        for r in rows:
            r["tags"] = json.loads(r["tags"])
        return rows

    def feeds(self) -> list[dict]:
        return self._feed_rows("SELECT * FROM feeds ORDER BY url")

    def feed(self, url: str) -> dict | None:
        rows = self._feed_rows("SELECT * FROM feeds WHERE url = ?", [url])
        return rows[0] if rows else None

    def due_feeds(self, now: datetime, urls: Iterable[str] | None = None) -> list[dict]:
        """Active feeds whose next poll time has come (all configured feeds if urls given)."""
        rows = self._feed_rows("SELECT * FROM feeds WHERE state = 'active' AND (next_poll = '' OR next_poll <= ?) "
                               "ORDER BY next_poll, url", [iso(now)])   # ties by URL: the same order on both backends
        if urls is not None:
            wanted = set(urls)
            rows = [r for r in rows if r["url"] in wanted or r["moved_from"] in wanted]
        return rows

    def set_feed_state(self, url: str, state: str) -> bool:
        """active, paused, retired or removed; resuming also clears the backoff. False if unknown."""
        values: dict[str, Any] = {"state": state}
        if state == "active":
            values.update(next_poll="", error_count=0, failing_since=None)
        return self._update("feeds", "url", url, values) > 0

    def failing_feeds(self, since_before: datetime) -> list[dict]:
        """Active feeds failing without a success since before the given time."""
        return self.rows("SELECT * FROM feeds WHERE state = 'active' AND failing_since IS NOT NULL "
                         "AND failing_since <= ? ORDER BY failing_since, url", [iso(since_before)])

    def update_feed(self, url: str, **values: Any) -> None:
        self._update("feeds", "url", url, values)

    @retried
    def move_feed(self, old: str, new: str) -> None:
        """A permanent redirect: the feed lives at `new` from now on; its entries follow it."""
        with self.transaction():
            if self.db.execute("SELECT 1 FROM feeds WHERE url = ?", [new]).fetchone():
                self.db.execute("UPDATE feeds SET state = 'moved' WHERE url = ?", [old])
                return
            self.db.execute("UPDATE feeds SET url = ?, moved_from = ? WHERE url = ?", [new, old, old])
            # entries the new URL already has stay as they are (UPDATE OR IGNORE, in both dialects)
            self.db.execute("UPDATE entries SET feed_url = ? WHERE feed_url = ? AND NOT EXISTS "
                            "(SELECT 1 FROM entries n WHERE n.feed_url = ? AND n.guid = entries.guid)",
                            [new, old, new])
