"""Bench: every web page's time with a full store (200,000 articles), and the query plans behind them.

Fills a state database (migrated by Store) with synthetic articles over 90 days: feeds
with tags and languages, stories of several copies, one match in ten, deliveries and
their history; builds the search index; then serves the real app on 127.0.0.1 (uvicorn,
as the daemon does) and times each list and detail page over HTTP (median and worst of
--runs), and prints EXPLAIN QUERY PLAN for the pages' queries.

    .venv/bin/python bench/web.py                        # 200,000 articles in a temp dir
    .venv/bin/python bench/web.py --articles 50000 --keep /tmp/web-bench.db
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
from monitor.web.db import reading  # noqa: E402

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


def fill(path: Path, n: int, seed: int = 20) -> dict:
    rng = random.Random(seed)
    store = Store(path)
    now = datetime.now(UTC)
    feeds = [(f"https://feed{i}.example/rss", f"Outlet {i}", json.dumps(rng.sample(TAGS, 2)), LANGS[i % len(LANGS)])
             for i in range(FEEDS)]
    db = store.db.conn
    db.execute("BEGIN")
    db.executemany("INSERT INTO feeds (url, name, tags, added, next_poll, last_success) VALUES (?,?,?,?,?,?)",
                   [(u, name, tags, now.isoformat(), now.isoformat(), now.isoformat()) for u, name, tags, _ in feeds])
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
            outbox.append((i, marker, "archive", "normal", t, "sent"))
    db.executemany("INSERT INTO articles (id, url, feed_url, guid, title, summary, text, published, language, source, "
                   "feed_tags, content_hash, story_id, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", arts)
    db.executemany("INSERT INTO matches VALUES (?,?,?,?,?,?,?)", matches)
    db.executemany("INSERT INTO outbox (article_id, rule, channel, priority, created, status) VALUES (?,?,?,?,?,?)",
                   outbox)
    ids = [r[0] for r in db.execute("SELECT id FROM outbox ORDER BY id")]
    for k in range(0, len(ids), 20):
        d = str(uuid.uuid4())
        status = "failed" if k % 2000 == 0 else "sent"
        db.execute("INSERT INTO deliveries (id, channel, created, status, attempts, next_attempt, items, last_error) "
                   "VALUES (?,?,?,?,?,?,?,?)", [d, "archive", now.isoformat(), status, 1, now.isoformat(),
                                                 len(ids[k:k + 20]), "HTTP 500" if status == "failed" else None])
        db.executemany("UPDATE outbox SET delivery_id = ? WHERE id = ?", [(d, i) for i in ids[k:k + 20]])
    db.execute("INSERT INTO delivery_log SELECT delivery_id, id, article_id, rule, channel FROM outbox "
               "WHERE delivery_id IS NOT NULL")
    db.execute("COMMIT")
    store.db.execute("ANALYZE")
    store.close()
    return {"articles": n, "matches": len(matches)}


def _config(path: Path) -> settings.Config:
    rules = path.parent / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "bench.yaml").write_text("rules:\n" + "".join(
        f"  - id: {k}\n    title: {v}\n    query: '\"{v}\"'\n" for k, v in MARKERS.items()))
    return settings.parse(f"state: {{path: {path}}}\nrules: {{path: {rules}}}\n"
                          "channels: [{name: archive, type: file}]\n", "bench.yaml")


PLANS = {
    "matches (7 days)": lambda: ("SELECT f.story, m.created FROM matches m JOIN article_facets f "
                                 "ON f.id = m.article_id WHERE m.created >= ? ORDER BY m.created DESC",
                                 [queries.days_ago(7)]),
    "matches, all time": lambda: ("SELECT f.story, m.created FROM matches m JOIN article_facets f "
                                  "ON f.id = m.article_id WHERE 1 = 1 ORDER BY m.created DESC", []),
    "matches by rule": lambda: ("SELECT f.story, m.created FROM matches m JOIN article_facets f "
                                "ON f.id = m.article_id WHERE m.rule = ? AND m.created >= ? ORDER BY m.created DESC",
                                ["kallas", queries.days_ago(7)]),
    "matches by tag": lambda: ("SELECT f.story, m.created FROM matches m JOIN article_facets f "
                               "ON f.id = m.article_id WHERE m.created >= ? AND f.feed_tags LIKE ? "
                               "ORDER BY m.created DESC", [queries.days_ago(30), '%"nordic"%']),
    "stories' copies": lambda: ("SELECT a.id FROM article_facets f JOIN articles a ON a.id = f.id "
                                "WHERE f.story IN (?, ?)", [5, 6]),
    "story page": lambda: ("SELECT id FROM articles WHERE story_id = ? OR id = ?", [5, 5]),
    "deliveries of an article": lambda: ("SELECT d.id FROM delivery_log l JOIN deliveries d ON d.id = l.delivery_id "
                                         "WHERE l.article_id IN (?)", [5]),
    "rule chart": lambda: ("SELECT rule, substr(created, 1, 10), count(*) FROM matches WHERE created >= ? "
                           "GROUP BY rule, 2", [queries.days_ago(30)]),
    "rule last match": lambda: ("SELECT rule, max(created) FROM matches GROUP BY rule", []),
    "rule feed": lambda: ("SELECT a.id FROM matches m JOIN articles a ON a.id = m.article_id WHERE m.rule = ? "
                          "ORDER BY m.created DESC LIMIT 50", ["kallas"]),
    "feed articles/day": lambda: ("SELECT count(*) FROM articles WHERE feed_url = ? AND created >= ?",
                                  ["https://feed1.example/rss", queries.days_ago(7)]),
    "search prefilter": lambda: ("SELECT a.id FROM articles_fts f JOIN fts_docs d ON d.doc = f.rowid JOIN articles a "
                                 "ON a.id = d.article_id WHERE articles_fts MATCH ? AND a.created >= ? "
                                 "ORDER BY f.rowid DESC", ['"kallas"', queries.days_ago(30)]),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--articles", type=int, default=200_000)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--keep", type=Path, help="Keep (or reuse) the database at this path.")
    args = p.parse_args()
    tmp = tempfile.TemporaryDirectory()
    path = args.keep or Path(tmp.name) / "monitor.db"
    if not path.exists():
        t = time.monotonic()
        info = fill(path, args.articles)
        print(f"filled {info['articles']} articles, {info['matches']} matches in {time.monotonic() - t:.1f}s")
        t = time.monotonic()
        done = 1
        while done:
            done = search.catch_up(path, budget_seconds=30)
        print(f"search index built in {time.monotonic() - t:.1f}s")
    cfg = _config(path)
    with reading(path) as conn:
        some_story = conn.execute("SELECT story_id FROM articles WHERE story_id != id LIMIT 1").fetchone()[0]
        some_article = conn.execute("SELECT article_id FROM matches ORDER BY created DESC LIMIT 1").fetchone()[0]
        print("\nquery plans (EXPLAIN QUERY PLAN):")
        for name, make in PLANS.items():
            sql, params = make()
            plan = "; ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
            print(f"  {name:26s} {plan}")
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
