"""Housekeeping queries: retention, cycle records, daemon facts (meta), counts, integrity.

Owns deleting old state in linear time and in short transactions: the rows to delete
are found first (one indexed pass each), then deleted in batches of `PRUNE_BATCH`, one
transaction per batch, so a poll writing meanwhile waits milliseconds, never the whole
prune. Must not decide when retention runs (the daemon's housekeeping job does).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from monitor.store.base import StoreBase, iso, now_utc

PRUNE_BATCH = 500


def _batches(ids: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]


class HousekeepingQueries(StoreBase):
    """Retention and the small tables the daemon reports through (cycles, meta)."""

    # -- cycles and status -----------------------------------------------------
    def record_cycle(self, kind: str, started: datetime, summary: dict) -> None:
        self._insert("cycles", {"kind": kind, "started": iso(started), "finished": iso(now_utc()),
                                "summary": json.dumps(summary)})
        self.db.execute("DELETE FROM cycles WHERE id < (SELECT max(id) - 1000 FROM cycles)")

    def last_cycle(self, kind: str) -> dict | None:
        rows = self.rows("SELECT * FROM cycles WHERE kind = ? ORDER BY id DESC LIMIT 1", [kind])
        return rows[0] if rows else None

    def last_busy_cycle(self, kind: str) -> dict | None:
        """The latest cycle that did work (polled at least one feed), not the latest idle check."""
        rows = self.rows(f"SELECT * FROM cycles WHERE kind = ? AND {self.dialect.json_number('summary', 'feeds')} > 0 "
                         "ORDER BY id DESC LIMIT 1", [kind])
        return rows[0] if rows else None

    def set_meta(self, key: str, value: Any) -> None:
        """Small daemon facts other processes read (rules status, daemon heartbeat)."""
        self.db.execute("INSERT INTO meta VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
                        "value = excluded.value, updated = excluded.updated",
                        [key, json.dumps(value), iso(now_utc())])

    def get_meta(self, key: str) -> tuple[Any, str] | None:
        row = self.db.execute("SELECT value, updated FROM meta WHERE key = ?", [key]).fetchone()
        return (json.loads(row[0]), row[1]) if row else None

    def counts(self) -> dict[str, int]:
        q = {
            "feeds": "SELECT count(*) FROM feeds",
            "feeds_failing": "SELECT count(*) FROM feeds WHERE error_count > 0 AND state = 'active'",
            "feeds_slow": "SELECT count(*) FROM feeds WHERE slow IS NOT NULL AND state = 'active'",
            "articles": "SELECT count(*) FROM articles",
            "matches": "SELECT count(*) FROM matches",
            "articles_unmatched": "SELECT count(*) FROM articles WHERE unmatched IS NOT NULL",
            "outbox_pending": "SELECT count(*) FROM outbox WHERE status = 'pending'",
            "deliveries_pending": "SELECT count(*) FROM deliveries WHERE status = 'pending'",
            "deliveries_failed": "SELECT count(*) FROM deliveries WHERE status = 'failed'",
        }
        return {k: self.db.execute(sql).fetchone()[0] for k, sql in q.items()}

    def integrity_ok(self) -> bool:
        return self.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # -- retention -------------------------------------------------------------
    def prune(self, older_than_days: int, batch: int = PRUNE_BATCH) -> int:
        """Delete delivered or unmatched articles, their matches and sent outbox rows past retention.

        Also finished deliveries and entries no longer in their feed, past retention. Returns
        the number of articles deleted. Linear in the rows examined; one short transaction
        per batch of `batch` rows.
        """
        cutoff = iso(now_utc() - timedelta(days=older_than_days))
        old = [r[0] for r in self.db.execute(
            "SELECT id FROM articles WHERE created < ? AND id NOT IN "
            "(SELECT article_id FROM outbox WHERE status = 'pending') ORDER BY id", [cutoff])]
        n = 0
        for ids in _batches(old, batch):
            n += self._prune_articles(ids, cutoff)
        done = [r[0] for r in self.db.execute(
            "SELECT id FROM deliveries WHERE status != 'pending' AND created < ?", [cutoff])]
        for ids in _batches(done, batch):
            with self.transaction():
                self.db.execute(f"DELETE FROM deliveries WHERE id IN ({','.join('?' * len(ids))}) "
                                "AND status != 'pending'", list(ids))
        with self.transaction():
            self.db.execute("DELETE FROM delivery_log WHERE delivery_id NOT IN (SELECT id FROM deliveries)")
            self.db.execute("DELETE FROM delivery_parts WHERE delivery_id NOT IN (SELECT id FROM deliveries)")
        self._prune_entries(cutoff, batch)
        return n

    def _prune_articles(self, ids: Sequence[int], cutoff: str) -> int:
        marks = ",".join("?" * len(ids))
        with self.transaction():
            # re-checked inside the transaction: a poll may have queued one of them again meanwhile
            still = [r[0] for r in self.db.execute(
                f"SELECT id FROM articles a WHERE id IN ({marks}) AND created < ? AND NOT EXISTS "
                "(SELECT 1 FROM outbox o WHERE o.article_id = a.id AND o.status = 'pending')", [*ids, cutoff])]
            if not still:
                return 0
            marks = ",".join("?" * len(still))
            self.db.execute(f"DELETE FROM matches WHERE article_id IN ({marks})", still)
            self.db.execute(f"DELETE FROM outbox WHERE article_id IN ({marks}) AND status != 'pending'", still)
            self.db.execute(f"DELETE FROM delivery_log WHERE article_id IN ({marks})", still)
            self.db.execute(f"DELETE FROM feedback WHERE article_id IN ({marks})", still)
            return self.db.execute(f"DELETE FROM articles WHERE id IN ({marks})", still).rowcount

    def _prune_entries(self, cutoff: str, batch: int) -> int:
        """Forget entries past retention that are not in their feed's latest fetch.

        An entry of a feed's latest fetch is still in the feed, however old: a feed that
        answers 304 for months never refreshes last_seen, and forgetting it would re-alert.
        The latest fetch is the feed's greatest last_seen, computed once per feed. Entries
        are deleted by their key (feed, GUID), the bound re-checked in the delete, so one a
        poll has just seen again stays.
        """
        latest = self.db.execute("SELECT feed_url, max(last_seen) FROM entries GROUP BY feed_url").fetchall()
        n = 0
        for feed_url, newest in latest:
            bound = min(cutoff, newest)
            guids = [r[0] for r in self.db.execute(
                "SELECT guid FROM entries WHERE feed_url = ? AND last_seen < ?", [feed_url, bound])]
            for part in _batches(guids, batch):
                with self.transaction():
                    n += self.db.execute(f"DELETE FROM entries WHERE feed_url = ? AND guid IN "
                                         f"({','.join('?' * len(part))}) AND last_seen < ?",
                                         [feed_url, *part, bound]).rowcount
        return n
