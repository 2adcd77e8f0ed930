"""The web pages as an analyst and an attacker see them (Starlette's test client on the real app and store).

Every test runs on both backends (`state_target`: a SQLite file, a PostgreSQL schema of its own).
"""

import json
import re
import time
from datetime import UTC, datetime

import feedparser
import pytest

from monitor.ingest.feeds import parse_feed
from monitor.web.security import CSP, Guard, hash_password
from tests.webenv import WebEnv, csrf_of

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)"> Kaja Kallas & "friends" \x07\x1b[31m'


@pytest.fixture
def env(tmp_path, state_target):
    e = WebEnv(tmp_path, state=state_target.yaml())
    yield e
    e.store.close()


def test_matches_page_groups_by_story_and_filters(env):
    a = env.add("Kaja Kallas visits Kyiv", "The EU top diplomat Kaja Kallas met ministers.", source="Alpha")
    b = env.add("Greenland talks resume", "Talks on Greenland resumed.", source="Beta", tags=("nordic",),
                language="da")
    c = env.add("Kallas again in Kyiv", "Kaja Kallas spoke again.", source="Gamma")
    env.store.db.execute("UPDATE articles SET story_id = ? WHERE id IN (?, ?)", [a, a, c])   # one story
    client = env.client()
    page = client.get("/").text
    assert page.count('<li class="story') == 2              # two stories, three articles
    assert "Gamma" in page and "Alpha" in page and "Beta" in page
    assert "<mark>Kaja Kallas</mark>" in page
    only = client.get("/?rule=greenland").text
    assert "talks resume" in only and "Kyiv" not in only
    assert "talks resume" not in client.get("/?tag=eu").text
    assert "talks resume" in client.get("/?lang=da").text
    assert '<li class="story' not in client.get("/?lang=xx").text           # a language no article has
    assert "talks resume" not in client.get("/?priority=high").text
    today = datetime.now(UTC).date().isoformat()
    assert "Kyiv" in client.get(f"/?since={today}&until={today}").text
    assert "Kyiv" not in client.get("/?since=2001-01-01&until=2001-01-02").text
    assert client.get("/?priority=urgent").status_code == 400
    assert client.get("/?page=0").status_code == 400
    assert client.get("/?since=yesterday").status_code == 400
    assert b in [int(x) for x in re.findall(r'href="/stories/(\d+)"', only)]


def test_pagination(env):
    for i in range(7):
        env.add(f"Greenland story {i}", "Greenland")
    env.config = type(env.config)(**{**env.config.__dict__,
                                     "http": type(env.config.http)(page_size=5)})
    client = env.client()
    first = client.get("/").text
    assert first.count('<li class="story') == 5 and 'rel="next"' in first and "story 6" in first
    second = client.get("/?page=2").text
    assert second.count('<li class="story') == 2 and 'rel="prev"' in second and "story 0" in second


def test_story_and_article_pages_show_why_and_where_it_went(env):
    art = env.add("Kaja Kallas in Brussels", "Yesterday the EU top diplomat Kaja Kallas said more.")
    row = env.store.pending_items("archive")[0]
    delivery = env.store.create_delivery("archive", [row["outbox_id"]])
    env.store.mark_delivered(delivery)
    client = env.client()
    page = client.get(f"/articles/{art}").text
    assert "Why it matched" in page and "kallas" in page
    assert page.count("<mark>Kaja Kallas</mark>") >= 2           # title and text
    assert "<mark>EU top diplomat</mark>" in page
    assert "archive" in page and "sent" in page
    story = client.get(f"/stories/{art}").text
    assert "Kaja Kallas in Brussels" in story and "sent" in story
    assert client.get("/articles/999999").status_code == 404
    assert client.get("/stories/abc").status_code == 404


def test_delivery_history_outlives_an_update(env):
    art = env.add("Kaja Kallas speaks", "Kaja Kallas spoke.")
    first = env.store.create_delivery("archive", [env.store.pending_items("archive")[0]["outbox_id"]])
    env.store.mark_delivered(first)
    url = env.store.rows("SELECT url FROM articles WHERE id = ?", [art])[0]["url"]
    env.store.mark_article_updated(url, "Kaja Kallas spoke, and then again.", "h2")
    second = env.store.create_delivery("archive", [env.store.pending_items("archive")[0]["outbox_id"]])
    env.store.mark_delivered(second)
    page = env.client().get(f"/articles/{art}").text
    assert page.count('class="status-sent"') == 2, "both deliveries are listed"
    rows = env.store.rows("SELECT delivery_id FROM delivery_log WHERE article_id = ?", [art])
    assert {r["delivery_id"] for r in rows} == {first, second}


def test_hostile_titles_stay_inert_everywhere(env):
    art = env.add(HOSTILE, f"Body {HOSTILE} Kaja Kallas", source='<b onmouseover="x()">Evil</b>')
    client = env.client()
    for path in ("/", f"/articles/{art}", f"/stories/{art}", "/rules", "/tester?query=Kallas",
                 "/tester/live?query=Kallas", "/search?q=Kallas", "/?rule=<script>"):
        r = client.get(path)
        assert r.status_code == 200, path
        body = r.text
        assert "<script>alert" not in body and "<img src=x" not in body and "<b onmouseover" not in body, path
        # the one script there is: the tester's own file, never inline
        scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", body, re.S)
        assert all(attrs.strip() == 'src="/static/tester.js" defer' and not inner for attrs, inner in scripts), path
        assert body.count("<script") == len(scripts), f"{path} has a script element"
        assert r.headers["content-security-policy"] == CSP
        assert "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get(f"/articles/{art}").text
    atom = client.get("/rules/kallas.atom")
    parsed = feedparser.parse(atom.content)
    assert not parsed.bozo, parsed.bozo_exception
    assert parsed.entries[0].title.startswith("<script>alert(1)</script>")     # text, not markup
    assert "\x07" not in atom.text and "\x1b" not in atom.text
    feed = json.loads(client.get("/rules/kallas.json").text)
    assert feed["items"][0]["title"].startswith("<script>")


def test_the_live_tester_streams_the_lower_half_alone(env):
    env.add("Kaja Kallas visits Kyiv", "The EU top diplomat Kaja Kallas met ministers.", source="Alpha")
    env.add("Greenland talks resume", "Talks on Greenland resumed.", source="Beta")
    client = env.client()
    full = client.get("/tester?query=Kallas").text
    assert '<script src="/static/tester.js" defer></script>' in full and 'data-live="/tester/live"' in full
    live = client.get("/tester/live?query=Kallas&days=30")
    assert live.status_code == 200 and live.headers["cache-control"] == "no-store"
    body = live.text
    assert "<html" not in body and "<form method=\"get\" action=\"/tester\"" not in body   # the fragment only
    assert body.count('<li class="result') == 1 and "<mark>Kallas</mark>" in body
    assert re.search(r"1 match\(es\) among \d+ article\(s\) scanned in", body)
    assert 'name="query" value="Kallas"' in body             # the check and save forms carry the draft
    bad = client.get("/tester/live?query=(Kallas").text
    assert 'class="errors"' in bad and "&lt;draft&gt;:" in bad and '<li class="result' not in bad
    assert client.get("/tester/live").text.strip() == ""      # nothing typed: nothing shown
    js = client.get("/static/tester.js")
    assert js.status_code == 200 and "AbortController" in js.text and "data-live" in js.text


def test_feeds_page_counts_each_feeds_articles_of_the_last_week(env):
    from monitor.config.settings import FeedSettings
    env.store.sync_feeds([FeedSettings("https://feed.example/rss", name="Alpha wire"),
                          FeedSettings("https://other.example/rss", name="Beta <b>daily</b>"),
                          FeedSettings("https://idle.example/rss", name="Idle")])
    for i in range(14):
        env.add(f"Story {i}", "Text.", feed="https://feed.example/rss")
    for i in range(7):
        env.add(f"Other {i}", "Text.", feed="https://other.example/rss")
    old = env.add("Old story", "Text.", feed="https://other.example/rss")
    env.store.db.execute("UPDATE articles SET created = '2020-01-01T00:00:00+00:00' WHERE id = ?", [old])
    env.store.db.execute("UPDATE feeds SET error_count = 2, last_error = 'HTTP 503', "
                         "failing_since = '2026-11-30T08:15:00+00:00' WHERE url = 'https://idle.example/rss'")
    page = env.client().get("/feeds").text
    rows = re.findall(r"<tr class=\"[^\"]*\">(.*?)</tr>", page, re.S)
    by_name = {re.search(r"<td>([^<]*)", r).group(1): r for r in rows}
    assert list(by_name)[0] == "Idle"                                   # failing feeds first
    assert by_name["Alpha wire"].rstrip().endswith("<td>2.0</td>")      # 14 articles / 7 days
    assert by_name["Beta &lt;b&gt;daily&lt;/b&gt;"].rstrip().endswith("<td>1.0</td>")   # the old one not counted
    assert "HTTP 503" in by_name["Idle"] and "since 2026-11-30 08:15 UTC" in by_name["Idle"]
    assert by_name["Idle"].rstrip().endswith("<td>0.0</td>")


def test_feeds_out_are_valid_and_list_the_rules_matches(env):
    for i in range(3):
        env.add(f"Greenland news {i}", "Greenland ice.")
    client = env.client()
    r = client.get("/rules/greenland.atom")
    assert r.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(r.content)
    assert not parsed.bozo and parsed.version == "atom10"
    assert [e.title for e in parsed.entries] == ["Greenland news 2", "Greenland news 1", "Greenland news 0"]
    assert all(e.link.startswith("https://news.example/") for e in parsed.entries)
    jf = client.get("/rules/greenland.json")
    doc = json.loads(jf.text)
    assert doc["version"] == "https://jsonfeed.org/version/1.1" and len(doc["items"]) == 3
    ours = parse_feed(jf.content, "http://127.0.0.1/rules/greenland.json", jf.headers["content-type"])
    assert ours.format.startswith("json") and ours.entries[0].title == "Greenland news 2"
    assert ours.entries[0].url.startswith("https://news.example/")
    assert client.get("/rules/nope.atom").status_code == 404


def test_rules_page_chart_last_match_and_errors(env):
    env.add("Greenland one", "Greenland")
    env.add("Greenland two", "Greenland")
    client = env.client()
    page = client.get("/rules").text
    row = page.split('href="/rules/greenland"')[1].split("</tr>")[0]
    assert "<svg" in row and "2 matches in 30 days" in row and "never" not in row
    assert 'href="/rules/strasse"' in page and "never" in page.split('href="/rules/strasse"')[1].split("</tr>")[0]
    (env.config.rules_path / "broken.yaml").write_text("rules:\n  - id: bad\n    query: '(unclosed'\n")
    import monitor.web.app as app_mod
    app_mod.RULES_REFRESH_SECONDS = 0
    try:
        page = env.client().get("/rules").text
    finally:
        app_mod.RULES_REFRESH_SECONDS = 3.0
    assert "invalid" in page and "broken.yaml:3:" in page


def test_every_post_needs_the_csrf_token(env):
    art = env.add("Greenland", "Greenland")
    client = env.client()
    page = client.get(f"/articles/{art}").text
    token = csrf_of(page)
    assert client.post(f"/articles/{art}/feedback", data={"rule": "greenland", "verdict": "not_relevant"}
                       ).status_code == 403
    assert client.post(f"/articles/{art}/feedback", data={"rule": "greenland", "verdict": "not_relevant",
                                                          "csrf": "forged"}).status_code == 403
    other = env.client()            # another browser: its own cookie, so this token is worthless
    assert other.post(f"/articles/{art}/feedback", data={"rule": "greenland", "verdict": "not_relevant",
                                                         "csrf": token}).status_code == 403
    assert not env.store.rows("SELECT * FROM feedback")
    ok = client.post(f"/articles/{art}/feedback", data={"rule": "greenland", "verdict": "not_relevant",
                                                        "csrf": token})
    assert ok.status_code == 200 and "marked not relevant" in ok.text
    assert env.store.rows("SELECT verdict FROM feedback") == [{"verdict": "not_relevant"}]
    assert client.get(f"/articles/{art}/feedback").status_code == 405


def test_snooze_and_mute_hold_deliveries_back(env):
    g = env.add("Greenland first", "Greenland")
    k = env.add("Kaja Kallas first", "Kaja Kallas")
    client = env.client()
    token = csrf_of(client.get("/rules/greenland").text)
    assert client.post("/rules/greenland/snooze", data={"hours": "24", "csrf": token}).status_code == 200
    assert "Snoozed until" in client.get("/rules/greenland").text
    assert [r["id"] for r in env.store.pending_items("archive")] == [k]
    assert client.post(f"/stories/{k}/mute", data={"hours": "24", "csrf": token}).status_code == 200
    assert env.store.pending_items("archive") == []
    assert env.store.hold_muted() == 2
    assert {r["status"] for r in env.store.rows("SELECT status FROM outbox")} == {"muted"}
    env.add("Greenland later", "Greenland")          # queued during the snooze: held too
    assert env.store.pending_items("archive") == []
    client.post("/rules/greenland/snooze", data={"hours": "0", "csrf": token})
    time.sleep(1.1)                                   # stored times have whole seconds
    env.add("Greenland after", "Greenland")           # queued after the snooze ended: delivered
    assert [r["title"] for r in env.store.pending_items("archive")] == ["Greenland after"]
    assert client.post(f"/stories/{g}/mute", data={"hours": "nan", "csrf": token}).status_code == 400
    assert client.post(f"/stories/{g}/mute", data={"hours": "99999", "csrf": token}).status_code == 400


def test_retry_now_makes_a_failed_delivery_due(env):
    env.add("Greenland", "Greenland")
    d = env.store.create_delivery("archive", [env.store.pending_items("archive")[0]["outbox_id"]])
    env.store.mark_delivery_failed(d, "SMTP 554 rejected <script>", None)
    client = env.client()
    page = client.get("/channels").text
    assert "SMTP 554 rejected &lt;script&gt;" in page and "Retry now" in page
    assert "secret-hook-token" not in page, "channel options (credentials) are never shown"
    r = client.post(f"/deliveries/{d}/retry", data={"csrf": csrf_of(page)})
    assert r.status_code == 200 and "is due again" in r.text
    assert env.store.delivery(d)["status"] == "pending"
    assert env.store.rows("SELECT status FROM outbox") == [{"status": "pending"}]
    assert client.post("/deliveries/nope/retry", data={"csrf": csrf_of(page)}).status_code == 404


def test_login_with_a_password_hash(env):
    guard = Guard(password_hash=hash_password("correct horse", rounds=1000))
    client = env.client(guard)
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    login = client.get("/login").text
    bad = client.post("/login", data={"secret": "wrong", "csrf": csrf_of(login)})
    assert bad.status_code == 401
    good = client.post("/login", data={"secret": "correct horse", "csrf": csrf_of(login)})
    assert good.status_code == 200 and "Matches" in good.text
    assert client.post("/login", data={"secret": "correct horse"}).status_code == 403   # CSRF on login too
    assert guard.valid_session(client.cookies.get("monitor_session"))
    assert not guard.valid_session("9999999999.forged")
