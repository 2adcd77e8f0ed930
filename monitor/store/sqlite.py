"""The SQLite state, through sqlite-utils: schema, migrations and intent-named queries.

Owns every table and every SQL statement. WAL mode; schema versions are applied in
order from MIGRATIONS and recorded in `schema_version`, so an old database upgrades
in place. Callers get plain dicts and dataclasses, never cursors. Must not do network
I/O, parsing or matching.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, overload

import sqlite_utils

from monitor.models import Article, Entry, Match

# Append only: each string is one schema version. Never edit a shipped migration.
MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE feeds (
        url TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '', tags TEXT NOT NULL DEFAULT '[]',
        interval_minutes INTEGER, full_text INTEGER NOT NULL DEFAULT 1,
        etag TEXT, last_modified TEXT, next_poll TEXT NOT NULL DEFAULT '',
        last_poll TEXT, last_success TEXT, last_status INTEGER,
        error_count INTEGER NOT NULL DEFAULT 0, last_error TEXT, failing_since TEXT,
        state TEXT NOT NULL DEFAULT 'active', moved_from TEXT, entries_seen INTEGER NOT NULL DEFAULT 0,
        added TEXT NOT NULL
    );
    CREATE TABLE entries (
        feed_url TEXT NOT NULL, guid TEXT NOT NULL, url TEXT NOT NULL, article_id INTEGER,
        content_hash TEXT, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
        PRIMARY KEY (feed_url, guid)
    );
    CREATE TABLE articles (
        id INTEGER PRIMARY KEY AUTOINCREMENT, url TEXT NOT NULL UNIQUE, feed_url TEXT NOT NULL,
        guid TEXT NOT NULL, title TEXT NOT NULL, summary TEXT NOT NULL DEFAULT '',
        text TEXT NOT NULL DEFAULT '', author TEXT NOT NULL DEFAULT '', published TEXT,
        language TEXT NOT NULL DEFAULT '', source TEXT NOT NULL DEFAULT '',
        feed_tags TEXT NOT NULL DEFAULT '[]', text_source TEXT NOT NULL DEFAULT 'page',
        content_hash TEXT, story_id INTEGER, updated INTEGER NOT NULL DEFAULT 0, created TEXT NOT NULL
    );
    CREATE INDEX articles_created ON articles(created);
    CREATE INDEX articles_hash ON articles(content_hash);
    CREATE TABLE matches (
        article_id INTEGER NOT NULL, rule TEXT NOT NULL, priority TEXT NOT NULL,
        title TEXT NOT NULL DEFAULT '', tags TEXT NOT NULL DEFAULT '[]', hits TEXT NOT NULL DEFAULT '[]',
        created TEXT NOT NULL, PRIMARY KEY (article_id, rule)
    );
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT, article_id INTEGER NOT NULL, rule TEXT NOT NULL,
        channel TEXT NOT NULL, priority TEXT NOT NULL, created TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending', delivery_id TEXT,
        UNIQUE (article_id, rule, channel)
    );
    CREATE INDEX outbox_pending ON outbox(channel, status);
    CREATE TABLE deliveries (
        id TEXT PRIMARY KEY, channel TEXT NOT NULL, created TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt TEXT NOT NULL, last_error TEXT, sent_at TEXT, items INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated TEXT NOT NULL);
    CREATE TABLE cycles (
        id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, started TEXT NOT NULL,
        finished TEXT NOT NULL, summary TEXT NOT NULL
    );
    """,
    # 2: delivery bookkeeping: alert vs digest (for the per-rule alert limit), how many items
    # a digest left for later ("and N more"), and the last scheduled send per channel
    """
    ALTER TABLE deliveries ADD COLUMN kind TEXT NOT NULL DEFAULT 'digest';
    ALTER TABLE deliveries ADD COLUMN more INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX deliveries_channel ON deliveries(channel, status);
    CREATE TABLE channel_state (channel TEXT PRIMARY KEY, last_scheduled TEXT NOT NULL)
    """,
    # 3 (dedupe): MinHash signatures so the story index is rebuilt at start without re-hashing;
    # keyed by canonical URL because the index decides before the article row has an id
    """
    CREATE TABLE story_signatures (
        article_url TEXT PRIMARY KEY, story_url TEXT NOT NULL, fingerprint TEXT NOT NULL,
        minhash BLOB NOT NULL, published TEXT NOT NULL
    );
    CREATE INDEX story_signatures_published ON story_signatures(published);
    CREATE INDEX articles_story ON articles(story_id);
    """,
    # 4: the time a feed gave each entry, to notice entries re-published under the same GUID
    """
    ALTER TABLE entries ADD COLUMN stamp TEXT
    """,
]


def now_utc() -> datetime:
    return datetime.now(UTC)


@overload
def iso(t: datetime) -> str: ...
@overload
def iso(t: None) -> None: ...
@overload
def iso(t: datetime | None) -> str | None: ...
def iso(t: datetime | None) -> str | None:
    return t.astimezone(UTC).isoformat(timespec="seconds") if t else None


def parse_iso(s: str | None) -> datetime | None:
    return datetime.fromisoformat(s) if s else None


def db_bytes(path: Path) -> int:
    """The state database's size on disk: the file and its write-ahead log."""
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def entry_stamp(e: Entry) -> str | None:
    """The time a feed claims for an entry: its update time, else its publication time."""
    return iso(e.updated or e.published)


class Store:
    """A handle on the state database. One per process; not shared across threads."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        self.db = sqlite_utils.Database(conn)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.migrate()

    # -- schema ----------------------------------------------------------------
    def schema_version(self) -> int:
        if "schema_version" not in self.db.table_names():
            return 0
        row = self.db.execute("SELECT max(version) FROM schema_version").fetchone()
        return row[0] or 0

    def migrate(self) -> int:
        """Apply every migration newer than the database; returns the version reached."""
        self.db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied TEXT)")
        current = self.schema_version()
        for version, script in enumerate(MIGRATIONS, start=1):
            if version <= current:
                continue
            with self.transaction():
                for statement in filter(str.strip, script.split(";")):
                    self.db.execute(statement)
                self.db.execute("INSERT INTO schema_version VALUES (?, ?)", [version, iso(now_utc())])
        return len(MIGRATIONS)

    @contextmanager
    def transaction(self):
        """One atomic unit of work: BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error."""
        conn = self.db.conn
        if conn.in_transaction:
            yield
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        self.db.conn.close()

    # sqlite-utils' insert/update helpers commit on their own (`with conn:`), which would end
    # an open transaction early; inside transactions we write with these two instead.
    def _insert(self, table: str, values: dict[str, Any]) -> None:
        cols = ", ".join(values)
        self.db.execute(f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(values))})",
                        list(values.values()))

    def _update(self, table: str, pk: str, key: Any, values: dict[str, Any]) -> None:
        if values:
            sets = ", ".join(f"{c} = ?" for c in values)
            self.db.execute(f"UPDATE {table} SET {sets} WHERE {pk} = ?", [*values.values(), key])

    def rows(self, sql: str, params: Sequence[Any] | dict = ()) -> list[dict]:
        cur = self.db.execute(sql, params)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    # -- feeds -----------------------------------------------------------------
    def sync_feeds(self, feeds: Iterable[Any]) -> None:
        """Make the feeds table hold the configured feeds (keeping their history)."""
        now = iso(now_utc())
        with self.transaction():
            for f in feeds:
                existing = self.db.execute("SELECT url FROM feeds WHERE url = ? OR moved_from = ?",
                                           [f.url, f.url]).fetchone()
                values = {"name": f.name, "tags": json.dumps(list(f.tags)),
                          "interval_minutes": f.interval_minutes, "full_text": int(f.full_text)}
                if existing:
                    self._update("feeds", "url", existing[0], values)
                    # a feed put back into the config is polled again
                    self.db.execute("UPDATE feeds SET state = 'active' WHERE url = ? AND state = 'removed'",
                                    [existing[0]])
                else:
                    self._insert("feeds", {"url": f.url, "added": now, "next_poll": "", **values})

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
                               "ORDER BY next_poll", [iso(now)])
        if urls is not None:
            wanted = set(urls)
            rows = [r for r in rows if r["url"] in wanted or r["moved_from"] in wanted]
        return rows

    def set_feed_state(self, url: str, state: str) -> bool:
        """active, paused, retired or removed; resuming also clears the backoff. False if unknown."""
        values: dict[str, Any] = {"state": state}
        if state == "active":
            values.update(next_poll="", error_count=0, failing_since=None)
        self._update("feeds", "url", url, values)
        return self.db.execute("SELECT changes()").fetchone()[0] > 0

    def failing_feeds(self, since_before: datetime) -> list[dict]:
        """Active feeds failing without a success since before the given time."""
        return self.rows("SELECT * FROM feeds WHERE state = 'active' AND failing_since IS NOT NULL "
                         "AND failing_since <= ? ORDER BY failing_since", [iso(since_before)])

    def update_feed(self, url: str, **values: Any) -> None:
        self._update("feeds", "url", url, values)

    def move_feed(self, old: str, new: str) -> None:
        """A permanent redirect: the feed lives at `new` from now on; its entries follow it."""
        with self.transaction():
            if self.db.execute("SELECT 1 FROM feeds WHERE url = ?", [new]).fetchone():
                self.db.execute("UPDATE feeds SET state = 'moved' WHERE url = ?", [old])
                return
            self.db.execute("UPDATE feeds SET url = ?, moved_from = ? WHERE url = ?", [new, old, old])
            self.db.execute("UPDATE OR IGNORE entries SET feed_url = ? WHERE feed_url = ?", [new, old])

    # -- entries and articles --------------------------------------------------
    def unseen(self, feed_url: str, entries: Sequence[Entry]) -> list[Entry]:
        """The entries whose GUID this feed has not delivered before (one query)."""
        if not entries:
            return []
        guids = [e.guid for e in entries]
        marks = ",".join("?" * len(guids))
        seen = {r[0] for r in self.db.execute(
            f"SELECT guid FROM entries WHERE feed_url = ? AND guid IN ({marks})", [feed_url, *guids])}
        return [e for e in entries if e.guid not in seen]

    def republished(self, feed_url: str, entries: Sequence[Entry]) -> list[tuple[Entry, dict]]:
        """Seen entries whose feed timestamp changed, each with its stored article (url, title, text)."""
        stamped = {e.guid: e for e in entries if entry_stamp(e)}
        if not stamped:
            return []
        marks = ",".join("?" * len(stamped))
        rows = self.rows(
            "SELECT e.guid, e.stamp, a.url, a.title, a.text FROM entries e JOIN articles a ON a.id = e.article_id "
            f"WHERE e.feed_url = ? AND e.guid IN ({marks})", [feed_url, *stamped])
        return [(stamped[r["guid"]], r) for r in rows
                if r["stamp"] and r["stamp"] != entry_stamp(stamped[r["guid"]])]

    def entry_times(self, feed_url: str, limit: int = 100) -> list[datetime]:
        """The feed's own times of its latest known entries (what a 304 says is still current)."""
        rows = self.db.execute("SELECT stamp FROM entries WHERE feed_url = ? AND stamp IS NOT NULL "
                               "ORDER BY stamp DESC LIMIT ?", [feed_url, limit]).fetchall()
        return [datetime.fromisoformat(r[0]) for r in rows]

    def known_urls(self, urls: Iterable[str]) -> set[str]:
        urls = list(set(urls))
        if not urls:
            return set()
        marks = ",".join("?" * len(urls))
        return {r[0] for r in self.db.execute(f"SELECT url FROM articles WHERE url IN ({marks})", urls)}

    def save_feed_items(self, feed_url: str, entries: Sequence[Entry],
                        articles: Sequence[tuple[Article, Sequence[Match], Sequence[str]]],
                        feed_values: dict[str, Any]) -> list[int]:
        """One transaction: seen entries, new articles, their matches, outbox rows, feed state.

        `articles` holds (article, matches, channels-per-match default) triples; each match
        goes to its own channels or, when it names none, to the given default channels.
        Returns the ids of the new articles.
        """
        now = iso(now_utc())
        ids: list[int] = []
        with self.transaction():
            for e in entries:
                self.db.execute(
                    "INSERT INTO entries (feed_url, guid, url, first_seen, last_seen, stamp) VALUES (?,?,?,?,?,?) "
                    "ON CONFLICT(feed_url, guid) DO UPDATE SET last_seen = excluded.last_seen, "
                    "stamp = excluded.stamp",
                    [feed_url, e.guid, e.url, now, now, entry_stamp(e)])
            for article, matches, default_channels in articles:
                art_id = self._insert_article(article, now)
                if art_id is None:
                    continue
                ids.append(art_id)
                self.db.execute("UPDATE entries SET article_id = ? WHERE feed_url = ? AND guid = ?",
                                [art_id, feed_url, article.guid])
                for m in matches:
                    self._insert_match(art_id, m, m.channels or tuple(default_channels), now)
            if feed_values:
                self._update("feeds", "url", feed_url, feed_values)
        return ids

    def _insert_article(self, a: Article, now: str) -> int | None:
        cur = self.db.execute(
            "INSERT OR IGNORE INTO articles (url, feed_url, guid, title, summary, text, author, published, "
            "language, source, feed_tags, text_source, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [a.url, a.feed_url, a.guid, a.title, a.summary, a.text, a.author, iso(a.published),
             a.language, a.source, json.dumps(list(a.feed_tags)), a.text_source, now])
        return cur.lastrowid if cur.rowcount else None

    def _insert_match(self, art_id: int, m: Match, channels: Sequence[str], now: str) -> None:
        hits = [{"field": h.field, "start": h.start, "end": h.end, "text": h.text} for h in m.hits]
        self.db.execute("INSERT OR IGNORE INTO matches VALUES (?,?,?,?,?,?,?)",
                        [art_id, m.rule, m.priority, m.title, json.dumps(list(m.tags)), json.dumps(hits), now])
        for ch in channels:
            self.db.execute("INSERT OR IGNORE INTO outbox (article_id, rule, channel, priority, created) "
                            "VALUES (?,?,?,?,?)", [art_id, m.rule, ch, m.priority, now])

    def articles(self, since: datetime | None = None, limit: int | None = None) -> list[dict]:
        sql = "SELECT * FROM articles" + (" WHERE created >= ?" if since else "") + " ORDER BY id"
        params: list[Any] = [iso(since)] if since else []
        if limit:
            sql += f" LIMIT {int(limit)}"
        return self.rows(sql, params)

    # -- outbox and deliveries -------------------------------------------------
    def pending_items(self, channel: str, priorities: Sequence[str] | None = None) -> list[dict]:
        """Outbox rows for a channel not yet in any delivery, joined with article and match."""
        sql = ("SELECT o.id AS outbox_id, o.rule, o.priority, o.created AS queued, a.*, "
               "m.title AS rule_title, m.tags AS rule_tags, m.hits AS hits "
               "FROM outbox o JOIN articles a ON a.id = o.article_id "
               "JOIN matches m ON m.article_id = o.article_id AND m.rule = o.rule "
               "WHERE o.channel = ? AND o.status = 'pending' AND o.delivery_id IS NULL")
        params: list[Any] = [channel]
        if priorities:
            sql += f" AND o.priority IN ({','.join('?' * len(priorities))})"
            params += list(priorities)
        return self.rows(sql + " ORDER BY o.id", params)

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
            claimed = sum(self.db.execute(
                "UPDATE outbox SET delivery_id = ? WHERE id = ? AND delivery_id IS NULL",
                [delivery_id, i]).rowcount for i in outbox_ids)
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

    def mark_delivered(self, delivery_id: str) -> None:
        now = iso(now_utc())
        with self.transaction():
            self.db.execute("UPDATE deliveries SET status = 'sent', sent_at = ?, attempts = attempts + 1 "
                            "WHERE id = ?", [now, delivery_id])
            self.db.execute("UPDATE outbox SET status = 'sent' WHERE delivery_id = ?", [delivery_id])

    def mark_delivery_failed(self, delivery_id: str, error: str, retry_at: datetime | None) -> None:
        """Record a failed attempt; with no retry time the delivery is given up as failed."""
        with self.transaction():
            if retry_at is None:
                self.db.execute("UPDATE deliveries SET status = 'failed', attempts = attempts + 1, "
                                "last_error = ? WHERE id = ?", [error, delivery_id])
                self.db.execute("UPDATE outbox SET status = 'failed' WHERE delivery_id = ?", [delivery_id])
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

    def failed_deliveries(self, limit: int = 20) -> list[dict]:
        return self.rows("SELECT * FROM deliveries WHERE status = 'failed' ORDER BY created DESC LIMIT ?",
                         [limit])

    # -- cycles and status -----------------------------------------------------
    def record_cycle(self, kind: str, started: datetime, summary: dict) -> None:
        self._insert("cycles", {"kind": kind, "started": iso(started), "finished": iso(now_utc()),
                                  "summary": json.dumps(summary)})
        self.db.execute("DELETE FROM cycles WHERE id < (SELECT max(id) - 1000 FROM cycles)")

    def last_cycle(self, kind: str) -> dict | None:
        rows = self.rows("SELECT * FROM cycles WHERE kind = ? ORDER BY id DESC LIMIT 1", [kind])
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
            "articles": "SELECT count(*) FROM articles",
            "matches": "SELECT count(*) FROM matches",
            "outbox_pending": "SELECT count(*) FROM outbox WHERE status = 'pending'",
            "deliveries_pending": "SELECT count(*) FROM deliveries WHERE status = 'pending'",
            "deliveries_failed": "SELECT count(*) FROM deliveries WHERE status = 'failed'",
        }
        return {k: self.db.execute(sql).fetchone()[0] for k, sql in q.items()}

    def prune(self, older_than_days: int) -> int:
        """Delete delivered or unmatched articles, their matches and sent outbox rows past retention."""
        cutoff = iso(now_utc() - timedelta(days=older_than_days))
        with self.transaction():
            old = "SELECT id FROM articles WHERE created < ? AND id NOT IN " \
                  "(SELECT article_id FROM outbox WHERE status = 'pending')"
            self.db.execute(f"DELETE FROM matches WHERE article_id IN ({old})", [cutoff])
            self.db.execute(f"DELETE FROM outbox WHERE status != 'pending' AND article_id IN ({old})", [cutoff])
            n = self.db.execute(f"DELETE FROM articles WHERE id IN ({old})", [cutoff]).rowcount
            self.db.execute("DELETE FROM deliveries WHERE status != 'pending' AND created < ?", [cutoff])
            # An entry of a feed's latest fetch is still in the feed, however old: a feed that
            # answers 304 for months never refreshes last_seen, and forgetting it would re-alert.
            self.db.execute("DELETE FROM entries WHERE last_seen < ? AND last_seen < "
                            "(SELECT max(e.last_seen) FROM entries e WHERE e.feed_url = entries.feed_url)",
                            [cutoff])
        return n

    def integrity_ok(self) -> bool:
        return self.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # -- stories (dedupe) --------------------------------------------------------
    def save_story_signatures(self, assignments: Iterable[Any]) -> None:
        """Keep what `StoryIndex.assign` decided: the signature row, articles.story_id and content_hash.

        Call in the same transaction as `save_feed_items`. The story id is the id of the
        story's first article; when that row is gone (pruned, or its insert was ignored)
        the article starts its own story.
        """
        with self.transaction():
            for a in assignments:
                self.db.execute(
                    "INSERT INTO story_signatures VALUES (?,?,?,?,?) ON CONFLICT(article_url) DO UPDATE SET "
                    "fingerprint = excluded.fingerprint, minhash = excluded.minhash",
                    [a.article_key, a.story_key, a.fingerprint, a.signature, iso(a.published)])
                self.db.execute(
                    "UPDATE articles SET content_hash = ?, story_id = COALESCE("
                    "(SELECT s.story_id FROM articles s WHERE s.url = ?), "
                    "(SELECT s.id FROM articles s WHERE s.url = ?), id) WHERE url = ?",
                    [a.fingerprint, a.story_key, a.story_key, a.article_key])

    def story_signatures(self, since: datetime) -> list[dict]:
        """Signature rows published since a time, oldest first, for `StoryIndex.load`."""
        return self.rows("SELECT * FROM story_signatures WHERE published >= ? ORDER BY published",
                         [iso(since)])

    def latest_story_published(self) -> datetime | None:
        """The latest publication time among the stored signatures: the story index's clock."""
        row = self.db.execute("SELECT max(published) FROM story_signatures").fetchone()
        return parse_iso(row[0]) if row and row[0] else None

    def prune_story_signatures(self, older_than: datetime) -> int:
        """Forget signatures older than the story window; they can no longer match anything."""
        return self.db.execute("DELETE FROM story_signatures WHERE published < ?", [iso(older_than)]).rowcount

    def story_id_of(self, url: str) -> int | None:
        """The story id of the article with this canonical URL (its own id before assignment)."""
        row = self.db.execute("SELECT COALESCE(story_id, id) FROM articles WHERE url = ?", [url]).fetchone()
        return row[0] if row else None

    def story_sources(self, story_id: int) -> list[dict]:
        """Every article of a story, first published first: the digest's "also reported by"."""
        return self.rows("SELECT id, url, source, feed_url, title, published FROM articles "
                         "WHERE story_id = ? OR id = ? ORDER BY published, id", [story_id, story_id])

    def story_already_queued(self, story_id: int, rule: str, channel: str, ignore_held: bool = False) -> bool:
        """Whether any article of this story already has an outbox row for this rule and channel.

        `ignore_held`: count only articles keyed by their own site's URL, not items a feed
        could not speak for (keys with `#via=`, dedupe.item_url), so such an item never
        suppresses the outlet's own copy.
        """
        held = " AND instr(a.url, '#via=') = 0" if ignore_held else ""
        return self.db.execute(
            "SELECT 1 FROM outbox o JOIN articles a ON a.id = o.article_id "
            "WHERE (a.story_id = ? OR a.id = ?) AND o.rule = ? AND o.channel = ?" + held + " LIMIT 1",
            [story_id, story_id, rule, channel]).fetchone() is not None

    def mark_article_updated(self, url: str, text: str, content_hash: str) -> int | None:
        """A material edit of a known article: new text, updated = 1, its outbox rows pending again.

        Returns the article id, or None when no article has this URL. Sent outbox rows are
        reset rather than added, since outbox keeps one row per (article, rule, channel).
        """
        row = self.db.execute("SELECT id FROM articles WHERE url = ?", [url]).fetchone()
        if not row:
            return None
        with self.transaction():
            self.db.execute("UPDATE articles SET text = ?, content_hash = ?, updated = 1 WHERE id = ?",
                            [text, content_hash, row[0]])
            self.db.execute("UPDATE outbox SET status = 'pending', delivery_id = NULL, created = ? "
                            "WHERE article_id = ? AND status = 'sent'", [iso(now_utc()), row[0]])
        return row[0]
