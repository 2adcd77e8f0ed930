"""Every format against a receiver that enforces its service's documented limits (issue 14).

Digests of 1, 50 and 500 farm articles made worst-case long (long headlines with markup,
mentions and links in them, long feed names, long URLs) go through `run_digests` to a
local receiver per format that answers 400 when a payload breaks a limit and 429 with
Retry-After on bursts. Every item must arrive exactly once across the parts, in priority
order, and nothing a receiver refused may be marked sent.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

import pytest

from monitor.deliver.delivery import run_digests
from monitor.models import Article, Hit, Match
from tests.receivers import ServiceReceiver

HOSTILE = " <!channel> @everyone @channel @all [click](http://evil.example/x) *bold* &lt;!here&gt;"
FORMATS = ["slack", "discord", "teams", "teams-legacy", "mattermost", "json"]
RANK = {"high": 0, "normal": 1, "low": 2}


def worst_case(arts: list[dict], n: int) -> list[dict]:
    """n farm articles with every field as long as real ones get, and then some."""
    out = []
    for i, a in enumerate(arts[:n]):
        title = (a["title"] + HOSTILE + " — " + " ".join(a["title"].split()[:4]) * 6)[:320]
        source = (f"Outlet {a['outlet']} International Edition for Europe, the Middle East and Africa " * 3)[:170]
        url = a["url"] + "?utm_source=feed&utm_medium=rss&ref=" + "x" * 300 + f"&n={i}"
        out.append({"title": title, "source": source, "url": url, "rule": ["alpha", "beta", "gamma"][i % 3],
                    "priority": "high" if i % 7 == 0 else "low" if i % 5 == 0 else "normal",
                    "published": datetime.fromisoformat(a["published"].replace("Z", "+00:00"))})
    return out


def queue(env, items: list[dict]) -> None:
    for k, it in enumerate(items):
        text = ("Officials said the agreement on the alpha beta gamma programme would be signed. " * 12
                + it["title"])
        j = text.find(it["rule"])
        art = Article(url=it["url"], feed_url=env.FEED, guid=f"g{k}", title=it["title"], text=text,
                      source=it["source"], published=it["published"])
        match = Match(rule=it["rule"], priority=it["priority"],
                      title=f"The {it['rule'].title()} Programme and Everything Said About It in Brussels",
                      hits=(Hit("text", j, j + len(it["rule"]), it["rule"]),))
        env.store.save_feed_items(env.FEED, [], [(art, [match], env.config.default_channels)], {})


def url_positions(fmt: str, bodies: list[str], urls: list[str]) -> dict[str, list[tuple[int, int]]]:
    seen: dict[str, list[tuple[int, int]]] = {u: [] for u in urls}
    for m, body in enumerate(bodies):
        body = body.replace("&amp;", "&").replace("\\u0026", "&")
        for u in urls:
            for hit in re.finditer(re.escape(u) + r"(?![0-9])", body):
                seen[u].append((m, hit.start()))
    return seen


# Every format and size on SQLite; on PostgreSQL every format up to 50 items and the 500-item digest
# in one format (the store's part of the run is the same whatever the format: it keeps the suite short).
CASES = [("sqlite", fmt, n) for n in (1, 50, 500) for fmt in FORMATS] + \
    [("postgresql", fmt, n) for n in (1, 50) for fmt in FORMATS] + [("postgresql", "json", 500)]


@pytest.mark.parametrize("backend, fmt, n", CASES)
def test_every_item_arrives_once_in_priority_order_within_the_limits(delivery_env, farm_articles, fmt, n):
    receiver = ServiceReceiver(fmt, burst=12, retry_after=0.3)
    try:
        env = delivery_env(f"  - {{name: hook, type: webhook, format: {fmt}, url: '{receiver.url}', "
                           "messages_per_second: 40}\n", "  max_items: 1000\n")
        items = worst_case(farm_articles, n)
        queue(env, items)
        summary = asyncio.run(run_digests(env.store, env.config, datetime(2026, 3, 2, 10, tzinfo=UTC), force=True))
        assert summary["failed"] == 0 and summary["retrying"] == 0, summary
        refused = [r for r in receiver.requests if r.status == 400]
        assert not refused, refused[0].errors
        accepted = receiver.accepted
        assert accepted and all(not r.errors for r in accepted)
        keys = [r.headers["Idempotency-Key"] for r in accepted]
        assert len(set(keys)) == len(keys)                             # one message per part, none twice
        seen = url_positions(fmt, [r.body.decode() for r in accepted], [i["url"] for i in items])
        assert {u: len(p) for u, p in seen.items() if len(p) != 1} == {}
        order = sorted(items, key=lambda i: seen[i["url"]][0])
        assert [RANK[i["priority"]] for i in order] == sorted(RANK[i["priority"]] for i in items)
        if len(accepted) > 1:
            assert all(f"part {k} of {len(accepted)}" in r.body.decode() for k, r in enumerate(accepted, 1))
        status = env.store.rows("SELECT status, count(*) AS n FROM outbox GROUP BY status")
        assert status == [{"status": "sent", "n": n}]
    finally:
        receiver.close()


def test_a_refused_part_is_never_marked_sent_and_a_retry_resends_the_same_bytes(delivery_env, farm_articles):
    receiver = ServiceReceiver("discord")
    try:
        env = delivery_env(f"  - {{name: hook, type: webhook, format: discord, url: '{receiver.url}', "
                           "messages_per_second: 50}\n", "  max_items: 1000\n  retry_for_hours: 1\n")
        queue(env, [i for i in worst_case(farm_articles, 31) if i["priority"] != "high"])
        receiver.refuse = [0, 500]                                      # part 1 accepted, part 2 refused
        t0 = datetime(2026, 3, 2, 10, tzinfo=UTC)
        first = asyncio.run(run_digests(env.store, env.config, t0, force=True))
        assert first["retrying"] == 1
        [d] = env.store.rows("SELECT * FROM deliveries")
        parts = env.store.delivery_parts(d["id"])
        assert len(parts) > 2 and [p["status"] for p in parts[:2]] == ["sent", "pending"]
        rows = {r["id"]: r["status"] for r in env.store.rows("SELECT id, status FROM outbox")}
        assert {i for i, s in rows.items() if s == "sent"} == set(parts[0]["outbox_ids"])   # only what was accepted
        refused = receiver.requests[1]
        queue(env, [i for i in worst_case(farm_articles[100:], 30) if i["priority"] != "high"])
        held = asyncio.run(run_digests(env.store, env.config, t0.replace(minute=0, second=30)))
        assert held["sent"] == 0 and held["held"] > 0 and len(receiver.requests) == 2   # not due yet: all wait
        late = asyncio.run(run_digests(env.store, env.config, t0.replace(minute=2)))
        assert late["sent"] == 1 and late["held"] == held["held"]       # the new items wait for the next digest
        assert receiver.requests[2].body == refused.body                # the same part, byte for byte
        assert receiver.requests[2].headers["Idempotency-Key"] == refused.headers["Idempotency-Key"]
        assert len(env.store.rows("SELECT * FROM deliveries")) == 1     # no second delivery meanwhile
        assert {r["status"] for r in env.store.rows("SELECT status FROM outbox WHERE delivery_id = ?", [d["id"]])} \
            == {"sent"}
        # a delivery given up after retry_for_hours: its accepted part stays sent, the rest is failed
        receiver.refuse = [0] + [500] * 10
        t1 = datetime(2026, 3, 2, 11, tzinfo=UTC)
        assert asyncio.run(run_digests(env.store, env.config, t1))["retrying"] == 1
        assert asyncio.run(run_digests(env.store, env.config, t1.replace(hour=13)))["failed"] == 1
        [d2] = env.store.rows("SELECT * FROM deliveries WHERE id != ?", [d["id"]])
        p2 = env.store.delivery_parts(d2["id"])
        got = {r["id"]: r["status"] for r in env.store.rows("SELECT id, status FROM outbox WHERE delivery_id = ?",
                                                            [d2["id"]])}
        assert {i for i, s in got.items() if s == "sent"} == set(p2[0]["outbox_ids"])
        assert {i for i, s in got.items() if s == "failed"} == {i for p in p2[1:] for i in p["outbox_ids"]}
    finally:
        receiver.close()
