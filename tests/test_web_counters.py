"""The web pages' counter table and query plans: feed_days stays equal to a recount, and
the pages' queries use their indexes (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on PostgreSQL).

feed_days is kept by the write path itself (triggers on articles, on both backends):
after the poll cycle's inserts, an edit that moves an article to another feed or day,
an article update, and retention's prune, it must equal `GROUP BY feed_url, day` over
the articles. The plan tests fail if a page's query falls back to scanning a table.
"""

from __future__ import annotations

import pytest

from monitor.web import queries
from tests.pgstate import ago
from tests.webenv import WebEnv

RECOUNT = "SELECT feed_url, substr(created, 1, 10), count(*) FROM articles GROUP BY 1, 2 ORDER BY 1, 2"
COUNTERS = "SELECT feed_url, day, articles FROM feed_days ORDER BY 1, 2"


@pytest.fixture
def env(tmp_path, state_target):
    e = WebEnv(tmp_path, state=state_target.yaml())
    yield e
    e.store.close()


def _both(store) -> tuple[list, list]:
    recount = [tuple(r) for r in store.db.execute(RECOUNT).fetchall()]
    counters = [tuple(r) for r in store.db.execute(COUNTERS).fetchall()]
    return recount, counters


def test_feed_days_equals_a_recount_after_inserts_updates_and_prune(env):
    ids = [env.add(f"Story {i} about the budget", "Some text.", feed=f"https://feed{i % 3}.example/rss")
           for i in range(9)]
    env.add("Kaja Kallas speaks", "Kaja Kallas in Kyiv.", feed="https://feed0.example/rss")
    recount, counters = _both(env.store)
    assert counters == recount and sum(r[2] for r in counters) == 10

    db, d = env.store.db, env.store.dialect
    db.execute(f"UPDATE articles SET created = {ago(d, 'created', 40)} WHERE id IN (?, ?, ?)", ids[:3])   # other day
    db.execute("UPDATE articles SET feed_url = ? WHERE id = ?", ["https://moved.example/rss", ids[4]])     # other feed
    db.execute("UPDATE articles SET text = ?, updated = 1 WHERE id = ?", ["Edited text.", ids[5]])        # neither
    recount, counters = _both(env.store)
    assert counters == recount
    assert ("https://moved.example/rss",) == tuple({r[0] for r in counters} - {f"https://feed{i}.example/rss"
                                                                                for i in range(3)})
    assert len({r[1] for r in counters}) == 2          # today and 40 days ago

    assert env.store.prune(30) == 3                    # the three old, unmatched articles
    recount, counters = _both(env.store)
    assert counters == recount and sum(r[2] for r in counters) == 7
    assert len({r[1] for r in counters}) == 1          # the emptied day's rows are gone, not left at 0


def test_feeds_page_reads_the_counters(env):
    for i in range(14):
        env.add(f"Item {i}", feed="https://busy.example/rss")
    env.add("Lone item", feed="https://quiet.example/rss")
    db = env.store.db
    db.execute("INSERT INTO feeds (url, name, added) VALUES (?, ?, ?), (?, ?, ?)",
               ["https://busy.example/rss", "Busy", "2026-01-01", "https://quiet.example/rss", "Quiet", "2026-01-01"])
    # a counter row that no article backs: the page must show it, so it reads feed_days, not articles
    db.execute("INSERT INTO feed_days VALUES (?, ?, ?)", [queries.days_ago(1)[:10], "https://quiet.example/rss", 6])
    with env.client() as client:
        html = client.get("/feeds").text
    assert "2.0" in html and "1.0" in html              # 14 / 7 days, (1 + 6) / 7 days


# the matches page's walk (queries._page_of_stories): newest first in the index's own order
WALK = ("SELECT f.story, m.created FROM matches m JOIN article_facets f ON f.id = m.article_id WHERE {} "
        "ORDER BY m.created DESC, m.rule DESC, m.priority DESC, m.article_id DESC LIMIT ? OFFSET ?")
SQLITE_PLANS = {
    # the matches page walks matches newest first along a covering index, never the table
    WALK.format("m.created >= ?"): ("COVERING INDEX matches_created", "SEARCH f USING INTEGER"),
    WALK.format("m.rule = ? AND m.created >= ?"): ("COVERING INDEX matches_rule",),
    WALK.format("m.priority = ? AND f.feed_tags LIKE ?"): ("COVERING INDEX matches_created",),
    "SELECT a.id FROM article_facets f JOIN articles a ON a.id = f.id WHERE f.story IN (?, ?)":
        ("article_facets_story",),
    "SELECT feed_url, sum(articles) FROM feed_days WHERE day > ? GROUP BY feed_url": ("feed_days",),
    "SELECT 1 FROM article_facets WHERE language = ? LIMIT 1": ("article_facets_language",),
    "SELECT d.id FROM delivery_log l JOIN deliveries d ON d.id = l.delivery_id WHERE l.article_id IN (?)":
        ("delivery_log_article",),
    "SELECT a.id FROM matches m JOIN articles a ON a.id = m.article_id WHERE m.rule = ? "
    "ORDER BY m.created DESC, m.priority DESC, m.article_id DESC LIMIT 50": ("matches_rule",),
}


def _params(sql: str) -> list:
    return ["x"] * sql.count("?")


def test_sqlite_plans_use_the_indexes(tmp_path):
    env = WebEnv(tmp_path)
    for i in range(30):
        env.add(f"Kaja Kallas item {i}", "Kaja Kallas said.", feed=f"https://feed{i % 4}.example/rss")
    conn = env.store.db.conn
    for sql, wanted in SQLITE_PLANS.items():
        plan = " ; ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, _params(sql)))
        for piece in wanted:
            assert piece in plan, (sql, plan)
        assert "SCAN" not in plan.replace("SCAN m USING COVERING INDEX matches_created", ""), (sql, plan)
        assert "TEMP B-TREE FOR ORDER BY" not in plan, (sql, plan)
    # the copies of a page of stories, filtered by language: found by story, not by the language index
    where, params = queries.MatchFilter(language="de", since="2020-01-01").where()
    sql = ("SELECT a.id FROM article_facets f JOIN articles a ON a.id = f.id JOIN matches m ON m.article_id = a.id "
           f"WHERE f.story IN (?, ?) AND {where}")
    plan = " ; ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, [1, 2, *params]))
    assert "article_facets_story" in plan and "article_facets_language" not in plan, plan
    env.store.close()


def test_postgresql_plans_can_use_the_indexes(tmp_path, pg_url):
    """On PostgreSQL (a small table, so sequential scans and hash joins are switched off to ask what
    the plan would be at scale): the walk goes down matches_created in the ORDER BY's own order
    (no sort) and reads the facets index only."""
    from monitor.store.dialect import to_postgres
    from tests.pgstate import StateTarget
    env = WebEnv(tmp_path, state=StateTarget("postgresql", tmp_path / "m.db", pg_url).yaml())
    for i in range(30):
        env.add(f"Kaja Kallas item {i}", "Kaja Kallas said.", feed=f"https://feed{i % 4}.example/rss")
    import psycopg
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        # the small table's shortcuts; and a sort, which the planner prefers to an index walk whose
        # pages VACUUM could not mark all-visible (any other open transaction in the cluster, such as
        # a concurrent test run's, holds them back): the question is whether the index serves the
        # ORDER BY at all, which a plan with sorts disabled still answers ("Sort" only if it cannot)
        for setting in ("seqscan", "hashjoin", "mergejoin", "sort"):
            conn.execute(f"SET enable_{setting} = off")
        conn.execute("SET max_parallel_workers_per_gather = 0")

        def plan(sql: str, params: list) -> str:
            return " ; ".join(r[0] for r in conn.execute("EXPLAIN " + to_postgres(sql), params))
        walk = plan(WALK.format("m.created >= ?"), ["2000", 100, 0])
        assert "Scan Backward using matches_created" in walk and "articles_facets" in walk, walk
        assert "Sort" not in walk, walk
        conn.execute("SET enable_indexonlyscan = off")      # else 30 rows are read whole from articles_facets
        copies = plan("SELECT a.id FROM article_facets f JOIN articles a ON a.id = f.id WHERE f.story IN (?, ?)",
                      [1, 2])
        assert "articles_facet_story" in copies and "Index Cond: (COALESCE(story_id, id) = ANY" in copies, copies
        assert "feed_days_pkey" in plan("SELECT feed_url, sum(articles) FROM feed_days WHERE day > ? GROUP BY feed_url",
                                        ["2000-01-01"])
    env.store.close()
