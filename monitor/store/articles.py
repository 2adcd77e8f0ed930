"""Queries about entries, articles, matches and the outbox rows a poll queues.

Owns what one feed poll saves in one transaction (`save_feed_items`), what a poll asks
before it fetches pages (unseen and re-published entries, known URLs) and material
updates of known articles. Must not send, render or match.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from monitor.models import Article, Entry, Match
from monitor.store.base import StoreBase, entry_stamp, iso, now_utc

# the columns of a new article's row, as `ArticleQueries._article_values` gives them
_ARTICLE_COLUMNS = ("url, feed_url, guid, title, summary, text, author, published, language, source, "
                    "feed_tags, text_source, created")
_ARTICLE_MARKS = ",".join("?" * len(_ARTICLE_COLUMNS.split(",")))
# An article's story_id and story_level in its INSERT (SQLite), as `save_story_signatures`' UPDATE
# sets them after it: the story's first article's story id, else its id, else the row's own id;
# 'first' when it heads its story (or that article's row is gone), else its level. The row's own
# id is the one SQLite is about to give it: AUTOINCREMENT takes one past the larger of the table's
# largest id and the largest it ever gave (sqlite_sequence, which an ignored insert moves too);
# read in the same statement, under the transaction's write lock. Parameters (`_story_values`):
# story key three times, the key again or NULL (no assignment), the article's key, the story key,
# the level.
_STORY_COLUMNS = (
    "CASE WHEN ? IS NULL THEN NULL ELSE COALESCE("
    "(SELECT s.story_id FROM articles s WHERE s.url = ?), (SELECT s.id FROM articles s WHERE s.url = ?), "
    "max(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'articles'), 0), "
    "COALESCE((SELECT max(id) FROM articles), 0)) + 1) END, "
    "CASE WHEN ? IS NULL THEN NULL WHEN ? = ? OR NOT EXISTS (SELECT 1 FROM articles s WHERE s.url = ?) "
    "THEN 'first' ELSE ? END")


# PostgreSQL: the story id a new row takes from a row stored before the statement (the one statement
# inserting the batch does not see its own rows: `ArticleQueries._pg_story_id` follows those itself)
_PG_STORED_STORY = "(SELECT COALESCE(s.story_id, s.id) FROM articles s WHERE s.url = ?)"


def _story_values(url: str, story: Any) -> list[Any]:
    """content_hash and `_STORY_COLUMNS`' parameters of one article (all NULL: no story decided)."""
    if story is None:
        return [None] * 9
    key = story.story_key
    return [story.fingerprint, key, key, key, key, url, key, key, getattr(story, "level", "copy")]


class ArticleQueries(StoreBase):
    """Entries, articles, matches and their outbox rows."""

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

    def seen_and_known(self, feed_url: str, entries: Sequence[Entry], urls: Iterable[str] = (),
                       ) -> tuple[list[Entry], list[tuple[Entry, dict]], set[str]]:
        """`unseen`, `republished` and `known_urls(urls)` in one query (one round trip on PostgreSQL,
        not three): a poll asks which of its entries are new and which of their articles' URLs are
        stored already before anything else."""
        guids = list(dict.fromkeys(e.guid for e in entries))
        wanted = list(dict.fromkeys(urls))
        if not guids and not wanted:
            return [], [], set()
        parts, params = [], []
        if guids:
            parts.append("SELECT 'entry' AS kind, e.guid, e.stamp, a.url, a.title, a.text FROM entries e "
                         "LEFT JOIN articles a ON a.id = e.article_id "
                         f"WHERE e.feed_url = ? AND e.guid IN ({','.join('?' * len(guids))})")
            params += [feed_url, *guids]
        if wanted:
            parts.append("SELECT 'known' AS kind, NULL AS guid, NULL AS stamp, url, NULL AS title, NULL AS text FROM articles "
                         f"WHERE url IN ({','.join('?' * len(wanted))})")
            params += wanted
        rows = self.rows(" UNION ALL ".join(parts), params)
        known = {r["url"] for r in rows if r["kind"] == "known"}
        rows = [r for r in rows if r["kind"] == "entry"]
        seen = {r["guid"] for r in rows}
        stamped = {e.guid: e for e in entries if entry_stamp(e)}
        republished = [(stamped[r["guid"]], r) for r in rows
                       if r["url"] is not None and r["guid"] in stamped and r["stamp"]
                       and r["stamp"] != entry_stamp(stamped[r["guid"]])]
        return [e for e in entries if e.guid not in seen], republished, known

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

    def queue_articles(self, arts: Sequence[Article], guard: str | None = None,
                       ) -> Callable[..., list[int | None]]:
        """Inside a unit of work: the articles inserted, their ids read later (the returned function,
        `ids(stories=None)`: each one's new id, or None where its URL was stored already). Both backends
        insert when the ids are asked, after the batch's stories are decided, and write each row with its
        story columns (`stories`: article key -> `StoryAssignment`), so the row is written once, not
        inserted and then updated by `save_story_signatures` (give it those keys: `story_rows`; a row
        whose insert was ignored, its URL stored meanwhile, is still updated there). PostgreSQL takes
        the rows' ids from the table's sequence now (queued, sent with the story lock's query: no round
        trip of its own) and inserts the batch as one statement when the ids are asked (one round trip;
        the insert used to ride the lock's round trip, plain, and be updated after: bench/pg_story_update.py).
        `guard`: an SQL condition (the story lock held, store/storyindex.py) without
        which nothing is inserted. Give the ids to `save_feed_items(ids=...)`."""
        now = iso(now_utc())
        if not self.dialect.postgres or not arts:
            return lambda stories=None: self._insert_articles(arts, now, guard, stories)
        # PostgreSQL: the rows' ids taken now, under the guard, in the story lock's round trip, so that
        # one statement can write the batch with each row's story id (a story's head in the batch: its
        # new id) once the stories are decided
        taken = self._many_returning_later(
            "SELECT nextval(pg_get_serial_sequence('articles', 'id')) FROM generate_series(1, ?)"
            + (f" WHERE {guard}" if guard else ""), [[len(arts)]])

        def ids(stories: Mapping[str, Any] | None = None) -> list[int | None]:
            got = taken()
            new = [r[0] for r in got[0]] if got else []
            if len(new) != len(arts):       # the guard false: nothing inserted
                return [None] * len(arts)
            return self._insert_with_ids(arts, new, now, stories or {})
        return ids

    def story_rows(self, arts: Sequence[Article], ids: Sequence[int | None],
                   stories: Mapping[str, Any] | None) -> set[str]:
        """The keys of the articles whose new rows `queue_articles`' ids(stories) wrote with their
        story columns: `save_story_signatures(rows_written=...)`."""
        if not stories:
            return set()
        return {a.url for a, art_id in zip(arts, ids) if art_id is not None and a.url in stories}

    def save_feed_items(self, feed_url: str, entries: Sequence[Entry],
                        articles: Sequence[tuple[Article, Sequence[Match], Sequence[str]]],
                        feed_values: dict[str, Any], ids: Sequence[int | None] | None = None) -> list[int]:
        """One transaction: seen entries, new articles, their matches, outbox rows, feed state.

        `articles` holds (article, matches, channels-per-match default) triples; each match
        goes to its own channels or, when it names none, to the given default channels.
        `ids`: the articles were inserted already in this unit of work (`queue_articles`, in the
        same order): their ids, or None where an article's URL was stored before.
        Returns the ids of the new articles.
        """
        now = iso(now_utc())
        with self.transaction():
            # batched: one pipelined round trip per kind of row on PostgreSQL, not one per row;
            # the articles first, so each entry is written once, with its new article's id
            if ids is None:
                ids = self._insert_articles([a for a, _, _ in articles], now)
            elif len(ids) != len(articles):
                raise ValueError(f"{len(ids)} article ids for {len(articles)} articles")
            new = [(art_id, item) for art_id, item in zip(ids, articles) if art_id is not None]
            saved = [art_id for art_id, _ in new]
            new_of = {article.guid: art_id for art_id, (article, _, _) in new}
            # the rest needs no result back: one round trip on PostgreSQL, not one per kind of row
            with self.pipelined():
                self._save_rows(feed_url, entries, new, new_of, feed_values, now)
        return saved

    def _save_rows(self, feed_url: str, entries: Sequence[Entry], new: list, new_of: dict[str, int],
                   feed_values: dict[str, Any], now: str) -> None:
        """`save_feed_items` after the articles: entries, matches, outbox rows, the feed's state."""
        self._many(
            "INSERT INTO entries (feed_url, guid, url, first_seen, last_seen, stamp, article_id) "
            "VALUES (?,?,?,?,?,?,?) ON CONFLICT(feed_url, guid) DO UPDATE SET last_seen = excluded.last_seen, "
            "stamp = excluded.stamp, article_id = COALESCE(excluded.article_id, entries.article_id)",
            [[feed_url, e.guid, e.url, now, now, entry_stamp(e), new_of.get(e.guid)] for e in entries])
        match_rows: list[list[Any]] = []
        outbox_rows: list[list[Any]] = []
        for art_id, (_, matches, default_channels) in new:
            for m in matches:
                match_rows.append(self._match_row(art_id, m, now))
                outbox_rows += [[art_id, m.rule, ch, m.priority, now]
                                for ch in m.channels or tuple(default_channels)]
        self._many("INSERT OR IGNORE INTO matches VALUES (?,?,?,?,?,?,?)", match_rows)
        self._many("INSERT OR IGNORE INTO outbox (article_id, rule, channel, priority, created) "
                   "VALUES (?,?,?,?,?)", outbox_rows)
        if feed_values:
            self._update("feeds", "url", feed_url, feed_values)

    def mark_unmatched(self, reasons: dict[str, str]) -> None:
        """Articles (by URL) stored without matches because their matching failed, with the reason."""
        for url, reason in reasons.items():
            self.db.execute("UPDATE articles SET unmatched = ? WHERE url = ?", [reason, url])

    def _insert_articles(self, arts: Sequence[Article], now: str, guard: str | None = None,
                         stories: Mapping[str, Any] | None = None) -> list[int | None]:
        """Each new article's id, or None where its URL is stored already (that insert is ignored).
        `stories` (SQLite; PostgreSQL: `_insert_with_ids`): the rows carry their story columns (`_STORY_COLUMNS`)."""
        if stories:
            # the guard asked once (SQLite: nothing moves the lock inside the transaction), the rows as VALUES
            # (an INSERT ... SELECT reading its own table may go through a temporary table: measured slower)
            if guard is not None and not self.db.execute(f"SELECT {guard}").fetchone()[0]:
                return [None] * len(arts)
            rows = self._many_returning(
                f"INSERT OR IGNORE INTO articles ({_ARTICLE_COLUMNS}, content_hash, story_id, story_level) "
                f"VALUES ({_ARTICLE_MARKS},?,{_STORY_COLUMNS}) RETURNING id",
                [[*self._article_values(a, now), *_story_values(a.url, stories.get(a.url))] for a in arts])
        else:
            rows = self._insert_articles_later(arts, now, guard)()
        return [r[0][0] if r else None for r in rows]

    def _insert_with_ids(self, arts: Sequence[Article], new: Sequence[int], now: str,
                         stories: Mapping[str, Any]) -> list[int | None]:
        """PostgreSQL: the batch in one statement, each row with the id taken for it (`new`, in order) and
        its story columns as `save_story_signatures`' UPDATE sets them (SQLite's `_STORY_COLUMNS`: a row
        stored before, else an earlier row of the batch, else the row itself heads its story); each
        new id, or None where the URL was stored (the row's insert ignored)."""
        first: dict[str, int] = {}
        for i, a in enumerate(arts):
            first.setdefault(a.url, i)
        marks = ",".join("?" * (len(_ARTICLE_COLUMNS.split(",")) + 2))      # id, the columns, content_hash
        rows, params = [], []
        for i, a in enumerate(arts):
            story = stories.get(a.url)
            params += [new[i], *self._article_values(a, now), story.fingerprint if story else None]
            if story is None:
                rows.append(f"({marks},NULL,NULL)")
                continue
            sql, values = self._pg_story_id(arts, new, stories, first, i)
            params += values
            key = story.story_key
            if key == a.url or first.get(key, i) < i:       # itself, or an earlier row of the batch: known
                rows.append(f"({marks},{sql},?)")
                params.append("first" if key == a.url else getattr(story, "level", "copy"))
            else:
                rows.append(f"({marks},{sql},CASE WHEN EXISTS (SELECT 1 FROM articles s WHERE s.url = ?) "
                            "THEN ? ELSE 'first' END)")
                params += [key, getattr(story, "level", "copy")]
        got = self._many_returning(
            f"INSERT OR IGNORE INTO articles (id, {_ARTICLE_COLUMNS}, content_hash, story_id, story_level) "
            f"VALUES {','.join(rows)} RETURNING id", [params])
        inserted = {r[0] for r in got[0]} if got else set()
        return [art_id if art_id in inserted else None for art_id in new]

    @staticmethod
    def _pg_story_id(arts: Sequence[Article], new: Sequence[int], stories: Mapping[str, Any],
                     first: Mapping[str, int], i: int) -> tuple[str, list[Any]]:
        """The SQL (and its parameters) of the story id row `i` of the batch is inserted with: its
        story's row as stored before the statement, else, when the story key is an earlier row of
        the batch, the story id that row is inserted with (followed the same way), else the row's own
        new id (it heads its story)."""
        key = stories[arts[i].url].story_key
        if key == arts[i].url:
            return "CAST(? AS BIGINT)", [new[i]]
        at = first.get(key, i)
        if at < i:
            if arts[at].url in stories:
                inner, values = ArticleQueries._pg_story_id(arts, new, stories, first, at)
            else:
                inner, values = "CAST(? AS BIGINT)", [new[at]]
            return f"COALESCE({_PG_STORED_STORY}, {inner})", [key, *values]
        return f"COALESCE({_PG_STORED_STORY}, CAST(? AS BIGINT))", [key, new[i]]

    def _insert_articles_later(self, arts: Sequence[Article], now: str,
                               guard: str | None = None) -> Callable[[], list[list[tuple]]]:
        values = f"VALUES ({_ARTICLE_MARKS})" if guard is None else f"SELECT {_ARTICLE_MARKS} WHERE {guard}"
        return self._many_returning_later(
            f"INSERT OR IGNORE INTO articles ({_ARTICLE_COLUMNS}) {values} RETURNING id",
            [self._article_values(a, now) for a in arts])

    @staticmethod
    def _article_values(a: Article, now: str) -> list[Any]:
        """An article's values in the order of `_ARTICLE_COLUMNS`."""
        return [a.url, a.feed_url, a.guid, a.title, a.summary, a.text, a.author, iso(a.published),
                a.language, a.source, json.dumps(list(a.feed_tags)), a.text_source, now]

    @staticmethod
    def _match_row(art_id: int, m: Match, now: str) -> list[Any]:
        decisive = m.decisive_hits()    # the hits of the query's satisfied clauses (`why`)
        hits = [{"field": h.field, "start": h.start, "end": h.end, "text": h.text}
                | ({"decisive": True} if h in decisive else {}) for h in m.hits]
        return [art_id, m.rule, m.priority, m.title, json.dumps(list(m.tags)), json.dumps(hits), now]

    def articles(self, since: datetime | None = None, limit: int | None = None) -> list[dict]:
        sql = "SELECT * FROM articles" + (" WHERE created >= ?" if since else "") + " ORDER BY id"
        params: list[Any] = [iso(since)] if since else []
        if limit:
            sql += f" LIMIT {int(limit)}"
        return self.rows(sql, params)

    def mark_article_updated(self, url: str, text: str, content_hash: str) -> int | None:
        """A material edit of a known article: new text, updated = 1, its outbox rows pending again.

        Returns the article id, or None when no article has this URL. Sent outbox rows are
        reset rather than added, since outbox keeps one row per (article, rule, channel);
        the deliveries that carried them stay recorded in delivery_log.
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
