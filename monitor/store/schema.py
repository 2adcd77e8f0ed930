"""The schema: the append-only list of migrations, applied in order.

Owns every CREATE/ALTER statement. Each string in MIGRATIONS is one schema version,
recorded in `schema_version` when applied, so an old database upgrades in place.
Must not hold the product's queries (those live beside it, one module per concern:
feeds, articles, deliveries, stories, housekeeping).
"""

from __future__ import annotations

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
]


