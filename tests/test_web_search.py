"""Search and the rule tester: the prefilter never drops a true match; drafts validate like `rules check`.

The corpus is the extraction benchmark's 181 real article texts (../shared/corpora), stored
as articles, on each backend in turn (SQLite's FTS5 index, PostgreSQL's tsvector index);
every query's search result is compared with evaluating the rule on every stored
article, which is what the prefilter must never change.
"""

import json
import random
import re
from pathlib import Path

import pytest

from monitor.match import parse as p
from monitor.match.text import normalise
from monitor.store.base import iso, now_utc
from monitor.web import actions, pgsearch, search, tester
from monitor.web.db import reading, target_of, writing
from tests.pgstate import BACKENDS, PgSchema, StateTarget
from tests.webenv import WebEnv, csrf_of

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "extraction-benchmark" / "ground-truth.json"
FOLDING = [("Straße in Köln", "strasse"), ("Grønland og Ærø", "gronland"), ("Viktor Orbán spoke", "orban"),
           ("ÉLYSÉE PALACE", "elysee"), ("Łódź mayor", "lodz"), ("Þingvellir", "thingvellir"),
           ("Ｆｕｌｌｗｉｄｔｈ NATO", "fullwidth"), ("İstanbul summit", "istanbul")]


@pytest.fixture(scope="module", params=BACKENDS)
def corpus_env(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("search")
    schema = PgSchema() if request.param == "postgresql" else None
    target = StateTarget(request.param, tmp / "m.db", schema.url if schema else None)
    env = WebEnv(tmp, state=target.yaml())
    docs = json.loads(CORPUS.read_text())
    for key, doc in sorted(docs.items()):
        body = doc["articleBody"]
        env.add(body.split(".")[0][:120] or key, body, source=doc["url"].split("/")[2])
    for title, _ in FOLDING:
        env.add(title, f"{title}. More text follows here.")
    half = env.store.rows("SELECT max(id) AS m FROM articles")[0]["m"] // 2
    search.catch_up(target_of(env.config), budget_seconds=60)
    # the index must follow edits and not return what it no longer holds
    env.store.db.execute("UPDATE articles SET text = text || ' zebracorn' WHERE id = ?", [half])
    env.store.db.execute("DELETE FROM articles WHERE id = ?", [half + 1])
    search.catch_up(target_of(env.config), budget_seconds=60)
    yield env
    env.store.close()
    if schema:
        schema.drop()


def _queries(env) -> list[str]:
    rng = random.Random(20)
    words = []
    for r in env.store.rows("SELECT text FROM articles ORDER BY id"):
        toks = re.findall(r"[^\W\d_]{4,}", r["text"])
        words += rng.sample(toks, min(3, len(toks)))
    qs = []
    for _ in range(20):
        a, b, c = rng.sample(words, 3)
        qs += [a, f'"{a} {b}"' if rng.random() < 0.3 else f"{a} OR {b}", f"{a[:4]}*", f"({a} OR {b}) AND NOT {c}",
               f"{a} NEAR/10 {b}", f"title:{a} OR text:{b}", f"{{{a.capitalize()}}}"]
    return qs + [q for _, q in FOLDING] + ["zebracorn"]


def _search(env, query: str) -> set[int]:
    draft = tester.build({"id": "search", "query": query}, {})
    assert draft.ruleset is not None, draft.errors
    with reading(target_of(env.config)) as conn:
        return {r["id"] for r in tester.backtest(conn, draft.ruleset, "search", "1970", 60, {}, limit=10**6)}


def _brute(env, queries: list[str]) -> dict[str, set[int]]:
    """Each query's matches by evaluating it on every stored article (one rule set, one pass)."""
    import yaml

    from monitor.match import load_rules
    from monitor.web.explain import as_article
    path = env.tmp / "brute.yaml"
    path.write_text(yaml.safe_dump({"rules": [{"id": f"q{i}", "query": q} for i, q in enumerate(queries)]}))
    rs = load_rules(path)
    found: dict[str, set[int]] = {q: set() for q in queries}
    for r in env.store.rows("SELECT * FROM articles"):
        for m in rs.match(as_article(r)):
            found[queries[int(m.rule[1:])]].add(r["id"])
    return found


def test_prefiltered_search_equals_evaluating_every_article(corpus_env):
    checked = nonempty = 0
    queries = _queries(corpus_env)
    for q, expected in _brute(corpus_env, queries).items():
        assert _search(corpus_env, q) == expected, q
        checked += 1
        nonempty += bool(expected)
    assert checked > 130 and nonempty > 100


def test_folding_reaches_the_index(corpus_env):
    for title, query in FOLDING:
        found = _search(corpus_env, query)
        assert any(t["title"] == title for t in corpus_env.store.rows(
            f"SELECT title FROM articles WHERE id IN ({','.join(map(str, found)) or 0})")), (title, query)
    assert len(_search(corpus_env, "zebracorn")) == 1, "an edited article is searchable by its new text"


def test_the_prefilter_is_used_and_narrows(corpus_env):
    expr = search.fts_query(p.parse('"Alder Crest" OR (kallas NEAR/5 euro*)'))
    assert expr == '(("alder" AND "crest") OR ("kallas" AND "euro"*))'
    assert search.fts_query(p.parse("NOT nato")) is None
    assert search.fts_query(p.parse("nato OR NOT eu")) is None
    assert search.fts_query(p.parse("nato AND NOT eu")) == '("nato")'
    word = normalise("Stadia")[0]
    if corpus_env.store.dialect == "postgresql":
        assert pgsearch.ts_query(p.parse('"Alder Crest" OR (kallas NEAR/5 euro*)')) == \
            "(('alder' & 'crest') | ('kallas' & 'euro':*))"
        assert pgsearch.ts_query(p.parse("nato OR NOT eu")) is None
        assert pgsearch.ts_query(p.parse("O'Neill")) in ("('o' & 'neill')", "'o' & 'neill'")
        with reading(target_of(corpus_env.config)) as conn:
            hits = conn.execute("SELECT count(*) FROM search_docs WHERE body @@ ?::tsquery",
                                [pgsearch.lexeme(word)]).fetchone()[0]
            conn.execute("SET LOCAL enable_seqscan = off")     # a small table: show the GIN index serves it
            conn.execute("SET LOCAL enable_indexscan = off")
            plan = " ".join(r[0] for r in conn.execute(
                "EXPLAIN SELECT a.id FROM search_docs s JOIN articles a ON a.id = s.article_id "
                "WHERE s.body @@ ?::tsquery", ["'x'"]))
        assert 0 < hits < 20 and "search_docs_body" in plan, plan
        return
    with reading(target_of(corpus_env.config)) as conn:
        hits = conn.execute("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?", [f'"{word}"']).fetchone()[0]
        plan = " ".join(r[3] for r in conn.execute(
            "EXPLAIN QUERY PLAN SELECT a.id FROM articles_fts f JOIN fts_docs d ON d.doc = f.rowid "
            "JOIN articles a ON a.id = d.article_id WHERE articles_fts MATCH ?", ['"x"']))
    assert 0 < hits < 20 and "VIRTUAL TABLE INDEX" in plan


def test_backtest_has_a_time_budget_and_counts(corpus_env):
    draft = tester.build({"id": "d", "query": "the"}, {})
    assert draft.ruleset is not None, draft.errors
    progress = tester.Progress()
    with reading(target_of(corpus_env.config)) as conn:
        found = list(tester.backtest(conn, draft.ruleset, "d", "1970", 0.0, {}, progress=progress))
    assert progress.stopped == "time budget" and progress.scanned >= 1 and len(found) <= 1
    progress = tester.Progress()
    with reading(target_of(corpus_env.config)) as conn:
        found = list(tester.backtest(conn, draft.ruleset, "d", "1970", 60, {}, limit=10, progress=progress))
    assert len(found) == 10 and progress.stopped == "result limit"


def test_search_and_tester_pages_stream_results(corpus_env):
    client = corpus_env.client()
    page = client.get("/search?q=strasse&days=30").text
    assert "<mark>Straße</mark>" in page and "1 result(s)" in page
    assert "unclosed" not in client.get("/search?q=(nato").text or "error" in client.get("/search?q=(nato").text
    bad = client.get("/tester?query=(nato").text
    assert "The draft is not valid" in bad and "&lt;draft&gt;:" in bad and "/tmp/" not in bad
    good = client.get("/tester?query=orban&days=30").text
    assert "Backtest" in good and "1 match(es) among" in good and "query: orban" in good


def test_not_relevant_marks_reach_the_tester(corpus_env):
    env = corpus_env
    art = env.store.rows("SELECT id FROM articles WHERE title = 'Viktor Orbán spoke'")[0]["id"]
    env.store.db.execute("INSERT OR IGNORE INTO matches VALUES (?, 'strasse', 'normal', 'Streets', '[]', '[]', ?)",
                         [art, iso(now_utc())])
    with writing(target_of(env.config)) as conn:
        actions.set_feedback(conn, art, "strasse", "not_relevant")
    client = env.client()
    page = client.get("/tester?rule=strasse&days=30").text
    assert 'Marked "not relevant"' in page and "still matches" in page
    assert "marked not relevant" in page.split('id="backtest-results"')[1]
    narrowed = client.get("/tester?rule=strasse&query=strasse*&id=strasse&days=30").text
    assert "no longer matches" in narrowed


def test_saving_shows_yaml_or_writes_a_validated_file(tmp_path):
    env = WebEnv(tmp_path)
    client = env.client()
    page = client.get("/tester?query=Rutte+NEAR/5+NATO&id=rutte&title=Mark+Rutte&days=1").text
    assert "query: Rutte NEAR/5 NATO" in page and "Write rutte.yaml" not in page
    token = csrf_of(page)
    shown = client.post("/tester/save", data={"csrf": token, "id": "rutte", "query": "Rutte NEAR/5 NATO"}).text
    assert "writing rule files is off" in shown and not (env.config.rules_path / "rutte.yaml").exists()
    from dataclasses import replace
    env.config = replace(env.config, http=replace(env.config.http, rules_writable=True))
    client = env.client()
    token = csrf_of(client.get("/tester?query=x").text)
    ok = client.post("/tester/save", data={"csrf": token, "id": "rutte", "query": "Rutte NEAR/5 NATO",
                                           "title": "Mark Rutte", "priority": "high"})
    assert ok.status_code == 200 and "written to rutte.yaml" in ok.text
    from monitor.match import load_rules
    rules = {r.id: r for r in load_rules(env.config.rules_path).rules}
    assert rules["rutte"].priority == "high" and rules["rutte"].query == "Rutte NEAR/5 NATO"
    clash = client.post("/tester/save", data={"csrf": token, "id": "kallas", "query": "x"})
    assert clash.status_code == 400 and "shares" in clash.text
    bad = client.post("/tester/save", data={"csrf": token, "id": "rutte", "query": "@nobody"})
    assert "unknown entity" in bad.text
    assert load_rules(env.config.rules_path).rules   # the folder is still valid


def test_check_text_and_a_fetched_url(tmp_path):
    env = WebEnv(tmp_path)
    client = env.client()
    token = csrf_of(client.get("/tester?query=x").text)
    r = client.post("/tester/check", data={"csrf": token, "query": '"Kaja Kallas"', "title": "News",
                                            "text": "Today Kaja Kallas said <b>no</b>."})
    assert "Fires" in r.text and "<mark>Kaja Kallas</mark>" in r.text and "&lt;b&gt;no&lt;/b&gt;" in r.text
    blocked = client.post("/tester/check", data={"csrf": token, "query": "x", "url": "http://127.0.0.2:9/"})
    assert "cannot fetch" in blocked.text and ("not allowed" in blocked.text or "private" in blocked.text
                                               or "refused" in blocked.text or "blocked" in blocked.text)


def test_check_a_page_fetched_through_the_guarded_client(tmp_path):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    page = ("<html><head><title>Quillmoor news</title></head><body><article><h1>Project Quillmoor</h1>"
            + "<p>The ministers met to discuss Project Quillmoor and its budget at length today.</p>" * 8
            + "</article></body></html>").encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = WebEnv(tmp_path, fetch='allow_private: ["127.0.0.1/32"], respect_robots: false')
        client = env.client()
        token = csrf_of(client.get("/tester?query=x").text)
        url = f"http://127.0.0.1:{server.server_address[1]}/news/1"
        r = client.post("/tester/check", data={"csrf": token, "query": "Quillmoor", "url": url})
        assert "Fires" in r.text and "<mark>Quillmoor</mark>" in r.text, r.text[-2000:]
    finally:
        server.shutdown()
        server.server_close()
