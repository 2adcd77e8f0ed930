"""The schema: the append-only list of migrations, applied in order.

Owns every CREATE/ALTER statement. Each string in MIGRATIONS is one schema version,
recorded in `schema_version` when applied, so an old database upgrades in place.
Must not hold the product's queries (those live beside it, one module per concern:
feeds, articles, deliveries, stories, housekeeping).
"""

from __future__ import annotations

import sqlite3


def statements(script: str) -> list[str]:
    """A migration script cut into whole statements (a trigger's body keeps its own semicolons)."""
    out: list[str] = []
    buf = ""
    for piece in script.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n;"):
                out.append(buf.strip())
            buf = ""
    if buf.strip(" \n;"):
        out.append(buf.strip())
    return out


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
    # 5 (stories): when monitor first saw each indexed article, so a restart windows it by the
    # same plausibility rule as the first decision (older rows: the article row's creation)
    """
    ALTER TABLE story_signatures ADD COLUMN seen TEXT;
    UPDATE story_signatures SET seen = COALESCE(
        (SELECT a.created FROM articles a WHERE a.url = story_signatures.article_url), published)
    """,
    # 6: a feed whose last poll was cut off at its deadline says so (NULL when it finished);
    # an article whose matching ran past its time limit is stored unmatched, with the reason
    """
    ALTER TABLE feeds ADD COLUMN slow TEXT;
    ALTER TABLE articles ADD COLUMN unmatched TEXT
    """,
    # 7 (delivery): the parts of each delivery as decided at its first attempt (store/parts.py)
    """
    CREATE TABLE delivery_parts (
        delivery_id TEXT NOT NULL, part INTEGER NOT NULL, parts INTEGER NOT NULL, key TEXT NOT NULL,
        outbox_ids TEXT NOT NULL, payload BLOB, label TEXT NOT NULL DEFAULT '', items INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'pending', sent_at TEXT, PRIMARY KEY (delivery_id, part)
    );
    CREATE INDEX outbox_article_channel ON outbox(article_id, channel)
""",
    # 8 (web): a delivery history that outlives re-alerts (outbox.delivery_id is only the
    # current claim); mutes and snoozes; analysts' "not relevant" marks; the search index
    # (contentless FTS5 over the rule language's folded tokens, filled by monitor.web.search,
    # with fts_docs mapping index rows to articles so a re-indexed or deleted article's old
    # row is simply no longer joined); covering indexes for the web pages' filters, and
    # article_facets: each article's story, language and feed tags in a narrow row kept by
    # triggers, so grouping thousands of matches by story never reads the wide article rows
    """
    CREATE TABLE delivery_log (
        delivery_id TEXT NOT NULL, outbox_id INTEGER NOT NULL, article_id INTEGER NOT NULL,
        rule TEXT NOT NULL, channel TEXT NOT NULL, PRIMARY KEY (delivery_id, outbox_id)
    );
    CREATE INDEX delivery_log_article ON delivery_log(article_id);
    INSERT INTO delivery_log SELECT delivery_id, id, article_id, rule, channel FROM outbox
        WHERE delivery_id IS NOT NULL;
    CREATE TABLE mutes (
        id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, key TEXT NOT NULL,
        created TEXT NOT NULL, until TEXT NOT NULL, note TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX mutes_key ON mutes(kind, key);
    CREATE TABLE feedback (
        article_id INTEGER NOT NULL, rule TEXT NOT NULL, verdict TEXT NOT NULL,
        created TEXT NOT NULL, PRIMARY KEY (article_id, rule)
    );
    CREATE VIRTUAL TABLE articles_fts USING fts5(body, content='', detail=none, tokenize='ascii');
    CREATE TABLE fts_docs (doc INTEGER PRIMARY KEY AUTOINCREMENT, article_id INTEGER NOT NULL);
    CREATE INDEX fts_docs_article ON fts_docs(article_id);
    CREATE TABLE fts_dirty (article_id INTEGER PRIMARY KEY);
    CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, summary, text ON articles
        BEGIN INSERT OR IGNORE INTO fts_dirty VALUES (new.id); END;
    CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles
        BEGIN DELETE FROM fts_docs WHERE article_id = old.id; DELETE FROM fts_dirty WHERE article_id = old.id; END;
    CREATE INDEX matches_created ON matches(created, rule, priority, article_id);
    CREATE INDEX matches_rule ON matches(rule, created, priority, article_id);
    CREATE INDEX articles_feed ON articles(feed_url, created);
    CREATE TABLE article_facets (
        id INTEGER PRIMARY KEY, story INTEGER NOT NULL, language TEXT NOT NULL, feed_tags TEXT NOT NULL
    );
    CREATE INDEX article_facets_language ON article_facets(language);
    CREATE INDEX article_facets_story ON article_facets(story);
    INSERT INTO article_facets SELECT id, COALESCE(story_id, id), language, feed_tags FROM articles;
    CREATE TRIGGER article_facets_insert AFTER INSERT ON articles BEGIN
        INSERT OR REPLACE INTO article_facets VALUES (new.id, COALESCE(new.story_id, new.id), new.language,
                                                      new.feed_tags); END;
    CREATE TRIGGER article_facets_update AFTER UPDATE OF story_id, language, feed_tags ON articles BEGIN
        UPDATE article_facets SET story = COALESCE(new.story_id, new.id), language = new.language,
                                  feed_tags = new.feed_tags WHERE id = new.id; END;
    CREATE TRIGGER article_facets_delete AFTER DELETE ON articles BEGIN
        DELETE FROM article_facets WHERE id = old.id; END
    """,
    # 9 (stories): the level by which an article joined its story ('first', 'copy' or 'related'
    # coverage of the same event; NULL for rows older than this), for the delivery's duplicate
    # rule; and the event-term hashes the related level compares, so a restart rebuilds it
    """
    ALTER TABLE articles ADD COLUMN story_level TEXT;
    ALTER TABLE story_signatures ADD COLUMN level TEXT NOT NULL DEFAULT 'copy';
    ALTER TABLE story_signatures ADD COLUMN terms BLOB
    """,
]

# 10, 11: claimed work and the shared story index's order (issue 19, store/workers_schema.py),
# the same scripts on every backend
from monitor.store.workers_schema import WORKER_MIGRATIONS  # noqa: E402

MIGRATIONS += WORKER_MIGRATIONS

MIGRATIONS += [
    # 12 (web): feed_days, how many articles each feed brought per UTC day, kept by triggers
    # on articles (insert, delete, a change of feed or time), so the feeds page reads a few
    # hundred counter rows instead of counting a week of articles
    """
    CREATE TABLE feed_days (
        day TEXT NOT NULL, feed_url TEXT NOT NULL, articles INTEGER NOT NULL, PRIMARY KEY (day, feed_url)
    ) WITHOUT ROWID;
    INSERT INTO feed_days SELECT substr(created, 1, 10), feed_url, count(*) FROM articles GROUP BY 1, 2;
    CREATE TRIGGER feed_days_insert AFTER INSERT ON articles BEGIN
        INSERT INTO feed_days VALUES (substr(new.created, 1, 10), new.feed_url, 1)
            ON CONFLICT (day, feed_url) DO UPDATE SET articles = articles + 1; END;
    CREATE TRIGGER feed_days_delete AFTER DELETE ON articles BEGIN
        UPDATE feed_days SET articles = articles - 1 WHERE feed_url = old.feed_url AND day = substr(old.created, 1, 10);
        DELETE FROM feed_days WHERE feed_url = old.feed_url AND day = substr(old.created, 1, 10) AND articles <= 0;
        END;
    CREATE TRIGGER feed_days_update AFTER UPDATE OF feed_url, created ON articles
        WHEN old.feed_url IS NOT new.feed_url OR substr(old.created, 1, 10) IS NOT substr(new.created, 1, 10) BEGIN
        UPDATE feed_days SET articles = articles - 1 WHERE feed_url = old.feed_url AND day = substr(old.created, 1, 10);
        DELETE FROM feed_days WHERE feed_url = old.feed_url AND day = substr(old.created, 1, 10) AND articles <= 0;
        INSERT INTO feed_days VALUES (substr(new.created, 1, 10), new.feed_url, 1)
            ON CONFLICT (day, feed_url) DO UPDATE SET articles = articles + 1; END
    """,
]

MIGRATIONS += [
    # 13 (issue 18): no query reads articles by content_hash (the story index keeps the
    # fingerprints it compares in memory), yet its index took a random leaf page per new article:
    # 19 of the 86 pages a cold feed's unit of work wrote to the log, 22%
    "DROP INDEX IF EXISTS articles_hash",
]
