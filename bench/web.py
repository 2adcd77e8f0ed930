"""Bench: every web page's time with a full store (200,000 articles), and the query plans behind them.

Fills a state database (migrated by Store, or PgStore) with synthetic articles over 90
days: feeds with tags and languages, stories of several copies, one match in ten,
deliveries and their history; builds the search index; then serves the real app on
127.0.0.1 (uvicorn, as the daemon does) and times each list and detail page over HTTP
(median and worst of --runs), and prints the query plans of the pages' queries
(EXPLAIN QUERY PLAN on SQLite, EXPLAIN on PostgreSQL).

    .venv/bin/python bench/web.py                        # 200,000 articles in a temp dir
    .venv/bin/python bench/web.py --articles 50000 --keep /tmp/web-bench.db
    .venv/bin/python bench/web.py --postgres postgresql://postgres@127.0.0.1:5432/test   # schema web_bench
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.config import settings  # noqa: E402
from monitor.store.sqlite import Store  # noqa: E402
from monitor.web import queries, search  # noqa: E402
from monitor.web import server as web  # noqa: E402
from monitor.web.db import PgTarget, reading  # noqa: E402

WORDS = ("european union defence minister summit nato alliance border security budget council parliament "
         "election vote talks ceasefire energy gas market trade tariff court ruling report inquiry agency "
         "spending industry army navy drone missile cyber attack sanction embassy president chancellor").split()
MARKERS = {"kallas": "Kaja Kallas", "rutte": "Mark Rutte", "greenland": "Greenland", "safe": "SAFE instrument",
           "rearm": "ReArm Europe", "orban": "Viktor Orbán", "baltic": "Baltic Sea", "ukraine": "Ukraine"}
LANGS = ("en", "en", "en", "de", "fr", "pl", "et", "da")
TAGS = ("eu", "defence", "politics", "nordic", "baltic", "news")
FEEDS = 200


def _text(rng: random.Random, marker: str | None) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(150, 300))]
    if marker:
        words.insert(rng.randrange(len(words)), MARKERS[marker])
    return " ".join(words).capitalize() + "."


def generate(n: int, seed: int = 20) -> dict:
    """The rows of a full store: feeds, articles, matches, outbox (deliveries are made per backend)."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    feeds = [(f"https://feed{i}.example/rss", f"Outlet {i}", json.dumps(rng.sample(TAGS, 2)), LANGS[i % len(LANGS)])
             for i in range(FEEDS)]
    arts, matches, outbox = [], [], []
    story_of: list[int] = []
    for i in range(1, n + 1):
        created = now - timedelta(seconds=rng.uniform(0, 90 * 86400))
        url, name, tags, lang = feeds[rng.randrange(FEEDS)]
        marker = rng.choice(list(MARKERS)) if rng.random() < 0.1 else None
        story = story_of[rng.randrange(max(0, i - 501), i - 1)] if story_of and rng.random() < 0.3 else i
        story_of.append(story)
        title = f"{' '.join(rng.choice(WORDS) for _ in range(6)).capitalize()}" + \
            (f" {MARKERS[marker]}" if marker else "")
        text = _text(rng, marker)
        arts.append((i, f"https://news{i % 97}.example/a/{i}", url, f"g{i}", title, text[:200], text,
                     created.isoformat(timespec="seconds"), lang, name, tags, "h", story, created.isoformat(timespec="seconds")))
        if marker:
            t = created.isoformat(timespec="seconds")
            hits = json.dumps([{"field": "text", "start": text.find(MARKERS[marker]),
                                "end": text.find(MARKERS[marker]) + len(MARKERS[marker]), "text": MARKERS[marker]}])
            matches.append((i, marker, "high" if marker == "kallas" else "normal", marker.title(), "[]", hits, t))
            outbox.append((len(outbox) + 1, i, marker, "archive", "normal", t, "sent"))
    feed_rows = [(u, name, tags, now.isoformat(), now.isoformat(), now.isoformat()) for u, name, tags, _ in feeds]
    deliveries, claims = [], []
    for k in range(0, len(outbox), 20):
        d = str(uuid.uuid4())
        status = "failed" if k % 2000 == 0 else "sent"
        deliveries.append((d, "archive", now.isoformat(), status, 1, now.isoformat(), len(outbox[k:k + 20]),
                           "HTTP 500" if status == "failed" else None))
        claims += [(d, *o[:5]) for o in outbox[k:k + 20]]
    return {"feeds": feed_rows, "articles": arts, "matches": matches, "outbox": outbox, "deliveries": deliveries,
            "claims": claims}


ARTICLE_COLS = ("id, url, feed_url, guid, title, summary, text, published, language, source, feed_tags, "
                "content_hash, story_id, created")
INSERTS = {
    "feeds": "INSERT INTO feeds (url, name, tags, added, next_poll, last_success) VALUES (?,?,?,?,?,?)",
    "articles": f"INSERT INTO articles ({ARTICLE_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "matches": "INSERT INTO matches VALUES (?,?,?,?,?,?,?)",
    "outbox": "INSERT INTO outbox (id, article_id, rule, channel, priority, created, status) VALUES (?,?,?,?,?,?,?)",
    "deliveries": "INSERT INTO deliveries (id, channel, created, status, attempts, next_attempt, items, last_error) "
                  "VALUES (?,?,?,?,?,?,?,?)",
}


def fill(path: Path, n: int, seed: int = 20) -> dict:
    """A SQLite store (migrated by Store) filled with `generate`'s rows."""
    data = generate(n, seed)
    store = Store(path)
    db = store.db.conn
    db.execute("BEGIN")
    for table, sql in INSERTS.items():
        db.executemany(sql, data[table])
    db.executemany("UPDATE outbox SET delivery_id = ? WHERE id = ?", [(c[0], c[1]) for c in data["claims"]])
    db.executemany("INSERT INTO delivery_log VALUES (?,?,?,?,?)", [c[:3] + c[3:5] for c in data["claims"]])
    db.execute("COMMIT")
    store.db.execute("ANALYZE")
    store.close()
    return {"articles": n, "matches": len(data["matches"])}


def fill_postgres(url: str, n: int, seed: int = 20) -> dict:
    """A PostgreSQL store (migrated by PgStore) filled with `generate`'s rows (COPY for the big tables)."""
    import psycopg

    from monitor.store.dialect import to_postgres
    from monitor.store.postgres import PgStore
    data = generate(n, seed)
    PgStore(url).close()
    with psycopg.connect(url) as conn:
        with conn.cursor() as cur:
            for table, sql in INSERTS.items():
                if table in ("articles", "matches"):
                    cols = ARTICLE_COLS if table == "articles" else ""
                    with cur.copy(f"COPY {table} {('(' + cols + ')') if cols else ''} FROM STDIN") as copy:
                        for row in data[table]:
                            copy.write_row(row)
                else:
                    cur.executemany(to_postgres(sql), data[table])
            cur.executemany("UPDATE outbox SET delivery_id = %s WHERE id = %s", [(c[0], c[1]) for c in data["claims"]])
            with cur.copy("COPY delivery_log FROM STDIN") as copy:
                for c in data["claims"]:
                    copy.write_row(c[:5])
            for table in ("articles", "outbox"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    return {"articles": n, "matches": len(data["matches"])}


def _config(path: Path, url: str | None = None) -> settings.Config:
    rules = path.parent / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "bench.yaml").write_text("rules:\n" + "".join(
        f"  - id: {k}\n    title: {v}\n    query: '\"{v}\"'\n" for k, v in MARKERS.items()))
    state = f"state: {{url: {json.dumps(url)}}}" if url else f"state: {{path: {path}}}"
    return settings.parse(f"{state}\nrules: {{path: {rules}}}\n"
                          "channels: [{name: archive, type: file}]\n", "bench.yaml")


WALK = ("SELECT f.story, m.created FROM matches m JOIN article_facets f ON f.id = m.article_id WHERE {} "
        "ORDER BY m.created DESC, m.rule DESC, m.priority DESC, m.article_id DESC LIMIT 102 OFFSET 0")
PLANS = {
    "matches (7 days)": lambda: (WALK.format("m.created >= ?"), [queries.days_ago(7)]),
    "matches, all time": lambda: (WALK.format("1 = 1"), []),
    "matches by rule": lambda: (WALK.format("m.rule = ? AND m.created >= ?"), ["kallas", queries.days_ago(7)]),
    "matches by tag": lambda: (WALK.format("m.created >= ? AND f.feed_tags LIKE ?"),
                               [queries.days_ago(30), '%"nordic"%']),
    "matches by language": lambda: (WALK.format("m.created >= ? AND f.language || '' = ?"),
                                    [queries.days_ago(30), "de"]),
    "stories' copies": lambda: ("SELECT a.id FROM article_facets f JOIN articles a ON a.id = f.id "
                                "WHERE f.story IN (?, ?)", [5, 6]),
    "story page": lambda: ("SELECT id FROM articles WHERE story_id = ? OR id = ?", [5, 5]),
    "deliveries of an article": lambda: ("SELECT d.id FROM delivery_log l JOIN deliveries d ON d.id = l.delivery_id "
                                         "WHERE l.article_id IN (?)", [5]),
    "rule chart": lambda: ("SELECT rule, substr(created, 1, 10), count(*) FROM matches WHERE created >= ? "
                           "GROUP BY rule, 2", [queries.days_ago(30)]),
    "rule last match": lambda: ("SELECT rule, max(created) FROM matches GROUP BY rule", []),
    "rule feed": lambda: ("SELECT a.id FROM matches m JOIN articles a ON a.id = m.article_id WHERE m.rule = ? "
                          "ORDER BY m.created DESC, m.priority DESC, m.article_id DESC LIMIT 50", ["kallas"]),
    "feeds' articles/day": lambda: ("SELECT feed_url, CAST(sum(articles) AS INTEGER) FROM feed_days WHERE day > ? "
                                    "GROUP BY feed_url", [queries.days_ago(7)[:10]]),
    "languages offered": lambda: ("SELECT DISTINCT language FROM article_facets WHERE language != '' "
                                  "ORDER BY language LIMIT 200", []),
    "search prefilter (SQLite)": lambda: ("SELECT a.id FROM articles_fts f JOIN fts_docs d ON d.doc = f.rowid JOIN articles a "
                                 "ON a.id = d.article_id WHERE articles_fts MATCH ? AND a.created >= ? "
                                 "ORDER BY f.rowid DESC", ['"kallas"', queries.days_ago(30)]),
    "search prefilter (PostgreSQL)": lambda: ("SELECT a.id FROM search_docs s JOIN articles a ON a.id = s.article_id "
                                              "WHERE s.body @@ ?::tsquery AND a.created >= ? ORDER BY a.id DESC",
                                              ["'kallas'", queries.days_ago(30)]),
}


def _plans(conn, postgres: bool) -> None:
    print("\nquery plans (" + ("EXPLAIN, PostgreSQL" if postgres else "EXPLAIN QUERY PLAN, SQLite") + "):")
    for name, make in PLANS.items():
        if name.endswith("(PostgreSQL)" if not postgres else "(SQLite)"):
            continue
        sql, params = make()
        if postgres:
            lines = [r[0].strip() for r in conn.execute("EXPLAIN " + sql, params)]
            plan = "; ".join(x.split("  (cost")[0] for x in lines if "cost" in x)
        else:
            plan = "; ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
        print(f"  {name:30s} {plan}")


def _pg_schema(admin_url: str, fresh: bool) -> str:
    """The URL of schema web_bench in that database (created; dropped first when `fresh`)."""
    from urllib.parse import quote

    import psycopg
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if fresh:
            conn.execute("DROP SCHEMA IF EXISTS web_bench CASCADE")
        conn.execute("CREATE SCHEMA IF NOT EXISTS web_bench")
    sep = "&" if "?" in admin_url else "?"
    return f"{admin_url}{sep}options={quote('-csearch_path=web_bench')}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--articles", type=int, default=200_000)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--keep", type=Path, help="Keep (or reuse) the database at this path.")
    p.add_argument("--postgres", metavar="URL", help="Bench on PostgreSQL: this database, schema web_bench "
                   "(reused when it holds articles; --fresh drops it first).")
    p.add_argument("--fresh", action="store_true", help="With --postgres: drop and refill the schema.")
    args = p.parse_args()
    tmp = tempfile.TemporaryDirectory()
    path = args.keep or Path(tmp.name) / "monitor.db"
    if args.postgres:
        url = _pg_schema(args.postgres, args.fresh)
        target: Path | PgTarget = PgTarget(url)
        with reading(target) as conn:
            filled = conn.execute("SELECT count(*) FROM articles").fetchone()[0] if conn.execute(
                "SELECT to_regclass('articles')").fetchone()[0] else 0
        if not filled:
            t = time.monotonic()
            info = fill_postgres(url, args.articles)
            print(f"filled {info['articles']} articles, {info['matches']} matches in {time.monotonic() - t:.1f}s")
        path.parent.mkdir(parents=True, exist_ok=True)
    else:
        url, target = None, path
    if not path.exists() or (args.postgres and not filled):
        if not args.postgres:
            t = time.monotonic()
            info = fill(path, args.articles)
            print(f"filled {info['articles']} articles, {info['matches']} matches in {time.monotonic() - t:.1f}s")
        t = time.monotonic()
        done = 1
        while done:
            done = search.catch_up(target, budget_seconds=30)
        print(f"search index built in {time.monotonic() - t:.1f}s")
    cfg = _config(path, url)
    with reading(target) as conn:
        some_story = conn.execute("SELECT story_id FROM articles WHERE story_id != id LIMIT 1").fetchone()[0]
        some_article = conn.execute("SELECT article_id FROM matches ORDER BY created DESC LIMIT 1").fetchone()[0]
        _plans(conn, args.postgres is not None)
    pages = ["/", "/?days=30", "/?days=all", "/?rule=kallas&days=30", "/?tag=nordic&days=30", "/?lang=de&days=30",
             "/?priority=high&days=90", "/?page=20&days=90", f"/stories/{some_story}", f"/articles/{some_article}",
             "/rules", "/rules/kallas", "/rules/kallas.atom", "/rules/kallas.json", "/feeds", "/channels",
             "/search?q=%22Kaja+Kallas%22&days=30", "/tester?query=%22Mark+Rutte%22&days=7"]
    server = web.start(cfg, listen="127.0.0.1:0", index=False)
    try:
        base = f"http://127.0.0.1:{server.port}"
        print(f"\npage times over HTTP, {args.runs} runs (ms): median / worst; streamed pages also the "
              "time to the first result")
        for page in pages:
            times, firsts = [], []
            for _ in range(args.runs):
                t = time.perf_counter()
                with urllib.request.urlopen(base + page, timeout=60) as r:
                    assert r.status == 200, page
                    seen = b""
                    while chunk := r.read1(65536):
                        if not firsts or len(firsts) < len(times) + 1:
                            seen += chunk
                            if b'class="result' in seen:
                                firsts.append((time.perf_counter() - t) * 1000)
                times.append((time.perf_counter() - t) * 1000)
            streamed = page.startswith(("/search", "/tester"))
            flag = "" if streamed or statistics.median(times) < 150 else "   OVER 150 ms"
            first = f"   first result {statistics.median(firsts):6.1f}" if streamed and firsts else ""
            print(f"  {page:42s} {statistics.median(times):7.1f} / {max(times):7.1f}{first}{flag}")
    finally:
        server.stop()
        tmp.cleanup()


if __name__ == "__main__":
    main()
