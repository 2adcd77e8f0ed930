"""Issue 14's delivery rules with real receivers: pacing, Retry-After, isolation between
channels, one pending delivery per channel, the first digest, and one rule for duplicates."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime

from monitor.deliver.delivery import run_digests
from tests.receivers import ServiceReceiver

T0 = datetime(2026, 3, 2, 10, tzinfo=UTC)


def run(env, now=T0, **kw) -> dict:
    return asyncio.run(run_digests(env.store, env.config, now, **kw))


def hook(name: str, receiver: ServiceReceiver, schedule: str = "hourly", extra: str = "") -> str:
    return (f"  - {{name: {name}, type: webhook, format: {receiver.fmt}, schedule: {schedule}, "
            f"url: '{receiver.url}'{extra}}}\n")


def test_chat_webhooks_are_paced_one_message_a_second_by_default(delivery_env):
    r = ServiceReceiver("slack", burst=2)               # more than 2 in a second would be a 429
    try:
        env = delivery_env(hook("s", r), "  max_items: 2\n")
        for i in range(5):
            env.add(f"Kallas story {i}")
        summary = run(env, force=True)
        assert summary["sent"] == 3 and summary["items"] == 5
        assert [q.status for q in r.requests] == [200, 200, 200]
        gaps = [b.at - a.at for a, b in zip(r.requests, r.requests[1:])]
        assert all(g >= 0.8 for g in gaps), gaps
    finally:
        r.close()


def test_retry_after_as_an_http_date_is_waited_out_then_the_rest_goes(delivery_env):
    r = ServiceReceiver("mattermost", burst=1, retry_after=2, date_retry_after=True)
    try:
        env = delivery_env(hook("m", r, extra=", messages_per_second: 50"), "  max_items: 1\n")
        for i in range(3):
            env.add(f"Kallas story {i}")
        summary = run(env, force=True)
        assert summary["sent"] == 3 and summary["retrying"] == 0
        ok = r.accepted
        assert len(ok) == 3 and any(q.status == 429 for q in r.requests)
        assert all(b.at - a.at >= 0.9 for a, b in zip(ok, ok[1:]))   # waited as the date said
    finally:
        r.close()


def test_a_long_retry_after_is_kept_for_the_next_attempt_not_our_backoff(delivery_env):
    r = ServiceReceiver("discord", burst=0, retry_after=600)
    try:
        env = delivery_env(hook("d", r, schedule="immediate"))
        env.add("Kallas story")
        assert run(env)["retrying"] == 1
        [d] = env.store.rows("SELECT * FROM deliveries")
        assert datetime.fromisoformat(d["next_attempt"]) == T0.replace(minute=10)   # 600 s, not 1 minute
        assert "429" in d["last_error"]
    finally:
        r.close()


def test_a_slow_or_rate_limited_channel_never_delays_another(delivery_env):
    slow = ServiceReceiver("slack", delay=4)
    limited = ServiceReceiver("discord", burst=0, retry_after=90)
    fast = ServiceReceiver("json")
    try:
        env = delivery_env(hook("slow", slow, "immediate") + hook("limited", limited, "immediate")
                           + hook("fast", fast, "immediate"))
        env.add("Kallas story", channels=("slow", "limited", "fast"))
        start = time.monotonic()
        t = asyncio.run(asyncio.wait_for(run_digests(env.store, env.config, T0), 60))
        assert fast.requests and fast.requests[0].at - start < 2.5, "the healthy channel waited"
        assert slow.accepted and t["sent"] == 2
    finally:
        for r in (slow, limited, fast):
            r.close()


def test_a_failing_immediate_channel_keeps_one_delivery_and_the_rest_waits(delivery_env):
    r = ServiceReceiver("json")
    try:
        env = delivery_env(hook("h", r, "immediate"))
        r.refuse = [500] * 4
        for minute in range(4):                        # four poll cycles while the receiver is down
            env.add(f"Kallas {minute}")
            run(env, T0.replace(minute=minute, second=10), immediate_only=True)
            run(env, T0.replace(minute=minute, second=20))
        assert len(env.store.rows("SELECT * FROM deliveries")) == 1
        r.refuse = []
        run(env, T0.replace(minute=30))                # the retry goes, then one delivery with the rest
        assert len(env.store.rows("SELECT * FROM deliveries")) == 2
        got = [i["title"] for q in r.accepted for i in q.json()["items"]]
        assert sorted(got) == [f"Kallas {m}" for m in range(4)]
    finally:
        r.close()


def test_first_scheduled_digest_goes_at_the_first_run_with_items_not_at_start(delivery_env):
    r = ServiceReceiver("json")
    try:
        env = delivery_env(hook("d", r, "'daily at 07:30'"))
        run(env, T0)                                   # start, nothing fetched yet
        assert env.store.last_scheduled() == {} and not r.requests
        env.add("Kallas story")
        run(env, T0.replace(minute=1))                 # the first poll cycle that leaves items
        assert [q.json()["kind"] for q in r.accepted] == ["digest"]
        env.add("Second story")
        run(env, T0.replace(minute=2))                 # then the schedule holds: next 07:30
        assert len(r.accepted) == 1
    finally:
        r.close()


def test_an_article_is_delivered_once_per_channel_listed_with_every_rule(delivery_env):
    r = ServiceReceiver("json")
    try:
        env = delivery_env(hook("d", r))
        art = env.add("Kallas and SAFE loans", rule="kallas", priority="high")
        env.store.db.execute("INSERT INTO matches VALUES (?,?,?,?,?,?,?)",
                             [art, "safe", "normal", "SAFE loans", "[]", "[]", "2026-03-02T09:00:00+00:00"])
        env.store.db.execute("INSERT INTO outbox (article_id, rule, channel, priority, created) "
                             "VALUES (?,?,?,?,?)", [art, "safe", "d", "normal", "2026-03-02T09:00:00+00:00"])
        env.store.set_last_scheduled("d", T0)
        run(env, T0.replace(minute=5))                 # the high-priority alert
        [alert] = [q.json() for q in r.accepted]
        assert alert["kind"] == "alert" and alert["items"][0]["rules"] == ["kallas", "safe"]
        # a near-copy (same story) that another rule matched later is not delivered again here
        env.add("Kallas and SAFE loans, agency copy", rule="greenland", story_id=art)
        env.add("Unrelated greenland story", rule="greenland")
        run(env, T0.replace(hour=11))
        digest = r.accepted[1].json()
        assert [i["title"] for i in digest["items"]] == ["Unrelated greenland story"]
        assert env.store.rows("SELECT count(*) AS n FROM outbox WHERE status = 'duplicate'") == [{"n": 1}]
        # a material update is delivered again, marked updated
        url = env.store.rows("SELECT url FROM articles WHERE id = ?", [art])[0]["url"]
        env.store.mark_article_updated(url, "new text about Kallas", "h2")
        run(env, T0.replace(hour=12))
        again = r.accepted[2].json()
        assert [(i["title"], i["updated"]) for i in again["items"]] == [("Kallas and SAFE loans", True)]
    finally:
        r.close()


def test_publisher_text_cannot_ping_or_inject_links_in_any_chat_format(delivery_env):
    evil_source = "&lt;!channel&gt; <!here> @everyone @channel @all <@U123>"
    evil_title = "Kallas [click me](http://evil.example/x) @here <http://evil.example|pwn> www.evil.example"
    fmts = ("slack", "discord", "teams", "teams-legacy", "mattermost")
    receivers = {f: ServiceReceiver(f) for f in fmts}
    try:
        env = delivery_env("".join(hook(f"c{n}", receivers[f], "immediate") for n, f in enumerate(fmts)),
                           "")
        env.add(evil_title, source=evil_source, channels=tuple(f"c{n}" for n in range(len(fmts))))
        run(env)
        for fmt, r in receivers.items():
            [q] = r.accepted
            raw = q.body.decode()
            doc = q.json()
            if fmt == "slack":                         # mrkdwn fields (plain_text headers are not parsed)
                text = json.dumps([doc["text"]] + [b["text"]["text"] for b in doc["blocks"]
                                                   if b.get("text", {}).get("type") == "mrkdwn"])
                assert "<!channel>" not in text and "<!here>" not in text and "<@U123>" not in text
                assert "&lt;!channel&gt;" not in text.replace("&amp;lt;!channel&amp;gt;", "")
                assert "<http://evil.example|" not in text
            else:
                for mention in ("@everyone", "@here", "@channel", "@all"):
                    assert mention not in raw, (fmt, mention)
                assert "http://evil.example" not in raw and "www.evil" not in raw, fmt
            if fmt == "discord":
                assert doc["allowed_mentions"] == {"parse": []}
    finally:
        for r in receivers.values():
            r.close()


def test_related_coverage_is_delivered_but_never_a_second_alert_for_its_story(delivery_env):
    r = ServiceReceiver("json")
    try:
        env = delivery_env(hook("d", r, "immediate"))
        if not env.store._has_story_levels():          # the stories issue's column, where it has not landed
            env.store.db.execute("ALTER TABLE articles ADD COLUMN story_level TEXT")
        first = env.add("Kallas resigns", priority="high")
        run(env, T0.replace(minute=1))
        assert [q.json()["kind"] for q in r.accepted] == ["alert"]
        follow = env.add("Kallas resignation: reactions from Tallinn", priority="high", story_id=first)
        env.store.db.execute("UPDATE articles SET story_level = 'related' WHERE id = ?", [follow])
        copy = env.add("Kallas resigns (agency copy)", priority="high", story_id=first)
        env.store.db.execute("UPDATE articles SET story_level = 'copy' WHERE id = ?", [copy])
        run(env, T0.replace(minute=2))
        assert len(r.accepted) == 1                      # no second alert, and the copy is a duplicate
        statuses = {row["article_id"]: row["status"] for row in env.store.rows("SELECT * FROM outbox")}
        assert statuses == {first: "sent", follow: "pending", copy: "duplicate"}
        run(env, T0.replace(hour=11))                    # the immediate channel's hourly digest takes it
        digest = r.accepted[1].json()
        assert digest["kind"] == "digest"
        assert [i["title"] for i in digest["items"]] == ["Kallas resignation: reactions from Tallinn"]
    finally:
        r.close()
