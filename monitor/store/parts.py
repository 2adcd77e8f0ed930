"""The saved parts of a delivery, duplicates per channel, and the cheap questions the
delivery job asks every second. Mixed into `Store` (store/sqlite.py).

Owns the `delivery_parts` table (migration 7): the messages of a delivery as decided at its
first attempt (their outbox rows, bytes and idempotency keys), so a retry re-sends exactly
those; a part's outbox rows are marked sent when that part was accepted, not before.
Must not render, send or decide schedules.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from monitor.store.base import StoreBase, iso
from monitor.store.retry import retried


class _PreparedLike(Protocol):
    outbox_ids: tuple[int, ...]
    payload: bytes
    key: str
    label: str
    items: int


class DeliveryParts(StoreBase):
    """The delivery_parts table, duplicate suppression and the delivery job's cheap looks."""

    def delivery_parts(self, delivery_id: str) -> list[dict]:
        out = self.rows("SELECT * FROM delivery_parts WHERE delivery_id = ? ORDER BY part", [delivery_id])
        for r in out:
            r["outbox_ids"] = json.loads(r["outbox_ids"])
        return out

    @retried
    def save_delivery_parts(self, delivery_id: str, parts: Sequence[_PreparedLike]) -> int:
        """Keep the messages decided at a delivery's first attempt; returns how many rows of the
        delivery no part carries (released back to the outbox, so nothing is silently dropped)."""
        with self.transaction():
            # PostgreSQL: two first attempts of one delivery queue here, the second then sees the parts
            self.db.execute("SELECT id FROM deliveries WHERE id = ?" + self.dialect.for_update, [delivery_id])
            if self.db.execute("SELECT 1 FROM delivery_parts WHERE delivery_id = ?", [delivery_id]).fetchone():
                return 0                                  # decided already (a concurrent first attempt)
            carried: set[int] = {i for p in parts for i in p.outbox_ids}
            self._many("INSERT INTO delivery_parts (delivery_id, part, parts, key, outbox_ids, payload, label, items) "
                       "VALUES (?,?,?,?,?,?,?,?)",
                       [[delivery_id, n, len(parts), p.key, json.dumps(list(p.outbox_ids)), p.payload, p.label, p.items]
                        for n, p in enumerate(parts, 1)])
            claimed = [r[0] for r in self.db.execute("SELECT id FROM outbox WHERE delivery_id = ?", [delivery_id])]
            loose = [i for i in claimed if i not in carried]
            self._many("UPDATE outbox SET delivery_id = NULL WHERE id = ?", [[i] for i in loose])
            if loose:
                self.db.execute("UPDATE deliveries SET items = items - ? WHERE id = ?", [len(loose), delivery_id])
        return len(loose)

    @retried
    def mark_part_sent(self, delivery_id: str, part: int, when: datetime) -> None:
        """One message was accepted: its outbox rows are sent now, whatever becomes of the other parts."""
        with self.transaction():
            row = self.db.execute("SELECT outbox_ids FROM delivery_parts WHERE delivery_id = ? AND part = ?",
                                  [delivery_id, part]).fetchone()
            self.db.execute("UPDATE delivery_parts SET status = 'sent', sent_at = ?, payload = NULL "
                            "WHERE delivery_id = ? AND part = ?", [iso(when), delivery_id, part])
            ids = json.loads(row[0]) if row else []
            for chunk in (ids[k:k + 500] for k in range(0, len(ids), 500)):    # one statement per 500 rows
                self.db.execute(f"UPDATE outbox SET status = 'sent' WHERE delivery_id = ? AND id IN "
                                f"({','.join('?' * len(chunk))})", [delivery_id, *chunk])

    def pending_deliveries(self, channel: str) -> list[dict]:
        """Deliveries of a channel not yet sent or given up (being tried, or waiting to be retried)."""
        return self.rows("SELECT * FROM deliveries WHERE channel = ? AND status = 'pending' ORDER BY created",
                         [channel])

    def _has_story_levels(self) -> bool:
        """Whether articles record how they joined their story (the stories issue's levels)."""
        return self.has_column("articles", "story_level")

    def settle_duplicates(self, channel: str) -> int:
        """Mark pending rows that would deliver an article twice on a channel as 'duplicate'.

        A row is a duplicate when the channel already has (sent, or in a delivery under way) a
        row of the same article under any rule, or of another article of the same story (a
        near-copy). Related coverage (`story_level = 'related'`, on either side) is never a
        near-copy: it is delivered, as a follow-up. A materially updated article is exempt from
        the near-copy clause: its own rows were reset to pending and it goes again, "updated".
        """
        related = ("AND COALESCE(a.story_level, '') != 'related' AND COALESCE(b.story_level, '') != 'related'"
                   if self._has_story_levels() else "")
        taken = "(p.status = 'sent' OR (p.status = 'pending' AND p.delivery_id IS NOT NULL))"
        join = self.dialect.ordered_join
        # Both clauses go through indexes (outbox(article_id, channel), articles(story_id)), so the
        # cost follows the pending rows and their stories, not the channel's whole history.
        return self.db.execute(
            "UPDATE outbox SET status = 'duplicate' WHERE id IN ("
            " SELECT o.id FROM outbox o JOIN articles a ON a.id = o.article_id"
            " WHERE o.channel = ? AND o.status = 'pending' AND o.delivery_id IS NULL AND ("
            "  EXISTS (SELECT 1 FROM outbox p WHERE p.article_id = o.article_id AND p.channel = o.channel"
            f"         AND p.id != o.id AND {taken})"
            "  OR (a.updated = 0 AND a.story_id IS NOT NULL AND ("
            f"   EXISTS (SELECT 1 FROM articles b {join} outbox p ON p.article_id = b.id AND p.channel = o.channel"
            f"           WHERE b.story_id = a.story_id AND b.id != a.id AND {taken} {related})"
            f"   OR EXISTS (SELECT 1 FROM articles b {join} outbox p ON p.article_id = b.id AND p.channel = o.channel"
            f"           WHERE b.id = a.story_id AND b.id != a.id AND {taken} {related})))))",
            [channel]).rowcount

    def story_alerted(self, story_id: int, rule: str, channel: str, since: datetime) -> bool:
        """Whether an alert for this story and rule went (or is going) to the channel since a time."""
        return self.db.execute(
            "SELECT 1 FROM outbox o JOIN deliveries d ON d.id = o.delivery_id "
            "WHERE o.article_id IN (SELECT id FROM articles WHERE story_id = ? UNION SELECT ?) "
            "AND o.channel = ? AND o.rule = ? AND d.kind = 'alert' AND d.status != 'failed' AND d.created >= ? "
            "LIMIT 1", [story_id, story_id, channel, rule, iso(since)]).fetchone() is not None

    def outbox_marks(self) -> dict[str, int]:
        """The newest unclaimed outbox row per channel: the delivery job's "anything new?"."""
        return {ch: n for ch, n in self.db.execute(
            "SELECT channel, max(id) FROM outbox WHERE status = 'pending' AND delivery_id IS NULL "
            "GROUP BY channel")}

    def channels_with_due_retries(self, now: datetime) -> set[str]:
        return {r[0] for r in self.db.execute(
            "SELECT DISTINCT channel FROM deliveries WHERE status = 'pending' AND next_attempt <= ?", [iso(now)])}

    def next_retry_time(self) -> datetime | None:
        row = self.db.execute("SELECT min(next_attempt) FROM deliveries WHERE status = 'pending'").fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None
