"""Queries about the outbox and deliveries: what is pending, claimed, sent or failed.

Owns the outbox -> delivery bookkeeping (a delivery is persisted before it is attempted,
marked only after its channel confirms, and recorded in delivery_log for good), mutes
holding rows back, alert counts for the rate limit and each
channel's last scheduled digest. Must not render or send.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from monitor.store.base import StoreBase, iso, now_utc
from monitor.store.retry import retried

# An outbox row is muted when a mute of its rule or of its story (the story's first article
# id, as text) ends after the row was queued: nothing queued before the mute's end goes out.
MUTED_SQL = ("NOT EXISTS (SELECT 1 FROM mutes mu WHERE mu.until > o.created AND ("
             "(mu.kind = 'rule' AND mu.key = o.rule) OR "
             "(mu.kind = 'story' AND mu.key = CAST(COALESCE(a.story_id, a.id) AS TEXT))))")


class DeliveryQueries(StoreBase):
    """The outbox, deliveries, delivery_log and channel_state tables."""

    def hold_muted(self) -> int:
        """Mark pending, unclaimed outbox rows that a mute covers as 'muted' (never sent, prunable)."""
        return self.db.execute(
            "UPDATE outbox SET status = 'muted' WHERE id IN (SELECT o.id FROM outbox o "
            "JOIN articles a ON a.id = o.article_id WHERE o.status = 'pending' AND o.delivery_id IS NULL "
            "AND NOT " + MUTED_SQL + ")").rowcount

    def pending_items(self, channel: str, priorities: Sequence[str] | None = None) -> list[dict]:
        """Outbox rows for a channel not yet in any delivery, joined with article and match."""
        sql = ("SELECT o.id AS outbox_id, o.rule, o.priority, o.created AS queued, a.*, "
               "m.title AS rule_title, m.tags AS rule_tags, m.hits AS hits "
               "FROM outbox o JOIN articles a ON a.id = o.article_id "
               "JOIN matches m ON m.article_id = o.article_id AND m.rule = o.rule "
               "WHERE o.channel = ? AND o.status = 'pending' AND o.delivery_id IS NULL AND " + MUTED_SQL)
        params: list[Any] = [channel]
        if priorities:
            sql += f" AND o.priority IN ({','.join('?' * len(priorities))})"
            params += list(priorities)
        return self.rows(sql + " ORDER BY o.id", params)

    @retried
    def create_delivery(self, channel: str, outbox_ids: Sequence[int], *, kind: str = "digest",
                        more: int = 0, now: datetime | None = None) -> str | None:
        """Persist a delivery and claim its outbox rows, before anything is sent.

        `kind` is "digest" or "alert"; `more` counts items left pending for a later digest.
        Rows already claimed by another run are skipped; when rows were asked for and none
        could be claimed, no delivery is created and None is returned.
        """
        delivery_id = str(uuid.uuid4())
        now_s = iso(now or now_utc())
        with self.transaction():
            self._insert("deliveries", {"id": delivery_id, "channel": channel, "created": now_s,
                                        "next_attempt": now_s, "items": len(outbox_ids),
                                        "kind": kind, "more": more})
            claimed = 0
            for k in range(0, len(outbox_ids), 500):       # one statement per 500 rows, not one per row
                chunk = list(outbox_ids[k:k + 500])
                claimed += self.db.execute(
                    f"UPDATE outbox SET delivery_id = ? WHERE id IN ({','.join('?' * len(chunk))}) "
                    "AND delivery_id IS NULL", [delivery_id, *chunk]).rowcount
            # the lasting history: kept when an update re-queues the row (mark_article_updated)
            self.db.execute("INSERT OR IGNORE INTO delivery_log SELECT delivery_id, id, article_id, rule, channel "
                            "FROM outbox WHERE delivery_id = ?", [delivery_id])
            if outbox_ids and not claimed:
                self.db.execute("DELETE FROM deliveries WHERE id = ?", [delivery_id])
                return None
            if claimed != len(outbox_ids):
                self.db.execute("UPDATE deliveries SET items = ? WHERE id = ?", [claimed, delivery_id])
        return delivery_id

    def due_deliveries(self, now: datetime, channel: str | None = None) -> list[dict]:
        sql = "SELECT * FROM deliveries WHERE status = 'pending' AND next_attempt <= ?"
        params: list[Any] = [iso(now)]
        if channel:
            sql += " AND channel = ?"
            params.append(channel)
        return self.rows(sql + " ORDER BY created", params)

    def delivery_items(self, delivery_id: str) -> list[dict]:
        return self.rows(
            "SELECT o.id AS outbox_id, o.rule, o.priority, o.created AS queued, a.*, "
            "m.title AS rule_title, m.tags AS rule_tags, m.hits AS hits "
            "FROM outbox o JOIN articles a ON a.id = o.article_id "
            "JOIN matches m ON m.article_id = o.article_id AND m.rule = o.rule "
            "WHERE o.delivery_id = ? ORDER BY o.id", [delivery_id])

    @retried
    def mark_delivered(self, delivery_id: str) -> None:
        now = iso(now_utc())
        with self.transaction():
            self.db.execute("UPDATE deliveries SET status = 'sent', sent_at = ?, attempts = attempts + 1 "
                            "WHERE id = ?", [now, delivery_id])
            self.db.execute("UPDATE outbox SET status = 'sent' WHERE delivery_id = ?", [delivery_id])

    @retried
    def mark_delivery_failed(self, delivery_id: str, error: str, retry_at: datetime | None) -> None:
        """Record a failed attempt; with no retry time the delivery is given up as failed."""
        with self.transaction():
            if retry_at is None:
                self.db.execute("UPDATE deliveries SET status = 'failed', attempts = attempts + 1, "
                                "last_error = ? WHERE id = ?", [error, delivery_id])
                # rows of parts already accepted stay sent: only the undelivered ones failed
                self.db.execute("UPDATE outbox SET status = 'failed' WHERE delivery_id = ? AND status != 'sent'",
                                [delivery_id])
            else:
                self.db.execute("UPDATE deliveries SET attempts = attempts + 1, last_error = ?, "
                                "next_attempt = ? WHERE id = ?", [error, iso(retry_at), delivery_id])

    def delivery(self, delivery_id: str) -> dict | None:
        rows = self.rows("SELECT * FROM deliveries WHERE id = ?", [delivery_id])
        return rows[0] if rows else None

    def alert_counts(self, channel: str, since: datetime) -> dict[str, int]:
        """Items per rule sent (or being sent) as alerts on a channel since a time: the rate limit."""
        cur = self.db.execute(
            "SELECT o.rule, count(*) FROM outbox o JOIN deliveries d ON d.id = o.delivery_id "
            "WHERE d.channel = ? AND d.kind = 'alert' AND d.created >= ? GROUP BY o.rule",
            [channel, iso(since)])
        return {rule: n for rule, n in cur.fetchall()}

    def last_scheduled(self) -> dict[str, datetime]:
        """When each channel last had its scheduled digest (sent or deliberately skipped as empty)."""
        return {r["channel"]: datetime.fromisoformat(r["last_scheduled"])
                for r in self.rows("SELECT * FROM channel_state")}

    def set_last_scheduled(self, channel: str, when: datetime) -> None:
        self.db.execute("INSERT INTO channel_state VALUES (?, ?) ON CONFLICT(channel) "
                        "DO UPDATE SET last_scheduled = excluded.last_scheduled", [channel, iso(when)])

    def channel_health(self) -> dict[str, dict[str, Any]]:
        """Per channel: outbox pending, deliveries retrying (since, next attempt, last error), failed,
        last sent, and the outcome of its latest finished delivery."""
        out: dict[str, dict[str, Any]] = {}

        def row(ch: str) -> dict[str, Any]:
            return out.setdefault(ch, {"outbox_pending": 0, "retrying": 0, "retrying_since": None,
                                       "next_attempt": None, "last_error": None, "failed": 0,
                                       "last_sent": None, "last_outcome": None})
        for ch, n in self.db.execute("SELECT channel, count(*) FROM outbox WHERE status = 'pending' "
                                     "GROUP BY channel").fetchall():
            row(ch)["outbox_pending"] = n
        for r in self.rows(
                "SELECT channel, count(CASE WHEN status = 'pending' AND attempts > 0 THEN 1 END) AS retrying, "
                "min(CASE WHEN status = 'pending' AND attempts > 0 THEN created END) AS retrying_since, "
                "min(CASE WHEN status = 'pending' THEN next_attempt END) AS next_attempt, "
                "count(CASE WHEN status = 'failed' THEN 1 END) AS failed, max(sent_at) AS last_sent "
                "FROM deliveries GROUP BY channel"):
            row(r.pop("channel")).update(r)
        # the latest finished delivery's outcome, and the latest error of one not sent (window
        # functions: the same SQL in both dialects; ties broken by id so both pick the same row)
        for ch, status in self.db.execute(self._latest_per_channel("status", "status IN ('sent', 'failed')")):
            row(ch)["last_outcome"] = status
        for ch, err in self.db.execute(self._latest_per_channel(
                "last_error", "status != 'sent' AND last_error IS NOT NULL")):
            row(ch)["last_error"] = err
        return out

    @staticmethod
    def _latest_per_channel(column: str, where: str) -> str:
        return (f"SELECT channel, {column} FROM (SELECT channel, {column}, row_number() OVER "
                f"(PARTITION BY channel ORDER BY created DESC, id DESC) AS n FROM deliveries WHERE {where}) "
                "latest WHERE n = 1")

    def failed_deliveries(self, limit: int = 20) -> list[dict]:
        return self.rows("SELECT * FROM deliveries WHERE status = 'failed' ORDER BY created DESC LIMIT ?",
                         [limit])
