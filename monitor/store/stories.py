"""Queries about stories: the MinHash signatures kept for the story index, story ids.

Owns the story_signatures table and articles.story_id. Must not compute signatures
(stories/ does) or decide which story an article joins.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from monitor.store.base import StoreBase, iso, parse_iso


class StoryQueries(StoreBase):
    """The story_signatures table and articles.story_id."""

    def save_story_signatures(self, assignments: Iterable[Any], seq_base: int | None = None,
                              rows_written: Collection[str] = ()) -> int | None:
        """Keep what `StoryIndex.assign` decided: the signature row, articles.story_id and content_hash.

        Call in the same transaction as `save_feed_items`. The story id is the id of the
        story's first article; when that row is gone (pruned, or its insert was ignored)
        the article starts its own story. With `seq_base` (under the story lock, the last
        number the caller knows: store/storyindex.py), the rows get the next numbers of the
        story log, base + 1, base + 2, ... in order; returns the last one given (None
        without a base). Two statements for the whole batch (each one pipelined round trip
        on PostgreSQL), not two per article. `rows_written`: the article keys whose rows were
        inserted with these story columns already (SQLite: `queue_articles`, `story_rows`); their
        rows are not updated again.
        """
        batch = list(assignments)
        if not batch:
            return seq_base
        base = seq_base or 0
        numbered = seq_base is not None
        # PostgreSQL also keeps the LSH band keys, indexed (SQLite: the in-memory index is the band index)
        bands = self.dialect.postgres
        with self.transaction(), self.pipelined():      # PostgreSQL: both batches in one round trip
            self._many(
                "INSERT INTO story_signatures (article_url, story_url, fingerprint, minhash, published, seen, "
                "level, terms, seq" + (", bands" if bands else "") + ") VALUES (?,?,?,?,?,?,?,?,?"
                + (",?" if bands else "") + ") ON CONFLICT(article_url) DO UPDATE SET "
                "fingerprint = excluded.fingerprint, minhash = excluded.minhash, terms = excluded.terms, "
                "seq = COALESCE(excluded.seq, story_signatures.seq)" + (", bands = excluded.bands" if bands else ""),
                [[a.article_key, a.story_key, a.fingerprint, a.signature, iso(a.published), iso(a.seen),
                  getattr(a, "level", "copy"), getattr(a, "terms", None) or None,
                  base + i if numbered else None] + ([list(getattr(a, "bands", ())) or None] if bands else [])
                 for i, a in enumerate(batch, start=1)])
            # the first article of a story (or one whose story's first row is gone) is 'first'
            updated = [a for a in batch if a.article_key not in rows_written]
            if updated:
                self._many(
                    "UPDATE articles SET content_hash = ?, story_id = COALESCE("
                    "(SELECT s.story_id FROM articles s WHERE s.url = ?), "
                    "(SELECT s.id FROM articles s WHERE s.url = ?), id), "
                    "story_level = CASE WHEN url = ? OR NOT EXISTS (SELECT 1 FROM articles s WHERE s.url = ?) "
                    "THEN 'first' ELSE ? END WHERE url = ?",
                    [[a.fingerprint, a.story_key, a.story_key, a.story_key, a.story_key, getattr(a, "level", "copy"),
                      a.article_key] for a in updated])
        return base + len(batch) if numbered else None

    def story_signatures(self, since: datetime) -> list[dict]:
        """Signature rows published since a time, oldest first, for `StoryIndex.load`."""
        # ties by key: the index is rebuilt in the same order on both backends (no rowid on PostgreSQL)
        return self.rows("SELECT * FROM story_signatures WHERE published >= ? ORDER BY published, article_url",
                         [iso(since)])

    def latest_story_published(self) -> datetime | None:
        """The latest window time among the stored signatures: the story index's clock.

        `published` in story_signatures is the time the window measures (the publisher's
        date only when plausible, see `stories.index.window_time`), not the display date."""
        row = self.db.execute("SELECT max(published) FROM story_signatures").fetchone()
        return parse_iso(row[0]) if row and row[0] else None

    def prune_story_signatures(self, older_than: datetime, batch: int = 500) -> int:
        """Forget signatures older than the story window; they can no longer match anything.

        In short transactions of `batch` rows, like the rest of retention."""
        n = 0
        while True:
            with self.transaction():
                deleted = self.db.execute(
                    "DELETE FROM story_signatures WHERE article_url IN (SELECT article_url FROM story_signatures "
                    "WHERE published < ? LIMIT ?)", [iso(older_than), batch]).rowcount
            n += deleted
            if deleted < batch:
                return n

    def story_id_of(self, url: str) -> int | None:
        """The story id of the article with this canonical URL (its own id before assignment)."""
        row = self.db.execute("SELECT COALESCE(story_id, id) FROM articles WHERE url = ?", [url]).fetchone()
        return row[0] if row else None

    def story_sources(self, story_id: int) -> list[dict]:
        """Every article of a story, first published first: the digest's "also reported by".

        `story_level` says how each joined: 'first', 'copy', 'related' (its own headline is
        shown under the story), or NULL for articles stored before levels were kept."""
        return self.rows("SELECT id, url, source, feed_url, title, published, story_level FROM articles "
                         "WHERE story_id = ? OR id = ? ORDER BY published, id", [story_id, story_id])

    def story_level(self, url: str) -> str | None:
        """How the article with this canonical URL joined its story: 'first', 'copy', 'related' or None."""
        row = self.db.execute("SELECT story_level FROM articles WHERE url = ?", [url]).fetchone()
        return row[0] if row else None

    def story_already_queued(self, story_id: int, rule: str, channel: str, ignore_held: bool = False) -> bool:
        """Whether any article of this story already has an outbox row for this rule and channel.

        `ignore_held`: count only articles keyed by their own site's URL, not items a feed
        could not speak for (keys with `#via=`, dedupe.item_url), so such an item never
        suppresses the outlet's own copy.
        """
        held = f" AND {self.dialect.strpos('a.url', repr('#via='))} = 0" if ignore_held else ""
        return self.db.execute(
            "SELECT 1 FROM outbox o JOIN articles a ON a.id = o.article_id "
            "WHERE (a.story_id = ? OR a.id = ?) AND o.rule = ? AND o.channel = ?" + held + " LIMIT 1",
            [story_id, story_id, rule, channel]).fetchone() is not None
