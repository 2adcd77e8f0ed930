"""Digests highlight the decisive hits of a match (its `why`), not every context word."""

from __future__ import annotations

from datetime import UTC, datetime

import yaml

from monitor.deliver.digest import build_digest
from monitor.match import load_rules
from monitor.models import Article, Hit, Match

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
FEED = "https://news.example/feed.xml"
TEXT = ("The EU and NATO talked about security. " + "Other news followed here. " * 3
        + "Later Kaja Kallas, the EU's top diplomat, spoke in Tallinn.")


def _marked(item) -> list[str]:
    return [s.text for s in (*item.title_segments, *item.snippet) if s.hit]


def test_digest_highlights_only_the_clause_that_decided(tmp_path, delivery_env):
    env = delivery_env("  - {name: archive, type: file, schedule: hourly}\n")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(yaml.safe_dump({"rules": [
        {"id": "kallas", "query": "{Kallas} NEAR/5 (EU OR NATO OR diplomat OR security)"}]}), encoding="utf-8")
    rs = load_rules(tmp_path / "rules")
    art = Article(url="https://news.example/a/1", feed_url=FEED, guid="1", title="Tallinn talks", text=TEXT,
                  published=datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    [match] = rs.match(art)
    assert {h.text for h in match.hits} == {"EU", "NATO", "security", "Kallas", "diplomat"}
    env.store.save_feed_items(FEED, [], [(art, [match], ("archive",))], {})
    d = build_digest(env.store.pending_items("archive"), channel="archive", created=NOW)
    [item] = d.items
    # the far EU / NATO / security of the first sentence are hits, but they did not decide
    assert _marked(item) == ["Kallas", "EU", "diplomat"]


def test_matches_stored_without_why_still_highlight_every_hit(delivery_env):
    env = delivery_env("  - {name: archive, type: file, schedule: hourly}\n")
    art = Article(url="https://news.example/a/2", feed_url=FEED, guid="2", title="x", text="EU and NATO met.",
                  published=datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    old = Match("eu", hits=(Hit("text", 0, 2, "EU"), Hit("text", 7, 11, "NATO")))
    env.store.save_feed_items(FEED, [], [(art, [old], ("archive",))], {})
    [item] = build_digest(env.store.pending_items("archive"), channel="archive", created=NOW).items
    assert _marked(item) == ["EU", "NATO"]


def test_digest_highlights_the_first_satisfied_branch_only(tmp_path, delivery_env):
    env = delivery_env("  - {name: archive, type: file, schedule: hourly}\n")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(yaml.safe_dump({"rules": [
        {"id": "kallas", "query": '"Kaja Kallas" OR ({Kallas} NEAR/5 (EU OR NATO OR diplomat OR security))'}]}),
        encoding="utf-8")
    [match] = load_rules(tmp_path / "rules").match(
        Article(url="u", feed_url=FEED, guid="3", title="Tallinn talks", text=TEXT))
    assert [w.clause for w in match.why] == ['"Kaja Kallas"', "({Kallas} NEAR/5 (EU OR NATO OR diplomat OR security))"]
    art = Article(url="https://news.example/a/3", feed_url=FEED, guid="3", title="Tallinn talks", text=TEXT,
                  published=datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    env.store.save_feed_items(FEED, [], [(art, [match], ("archive",))], {})
    [item] = build_digest(env.store.pending_items("archive"), channel="archive", created=NOW).items
    assert _marked(item) == ["Kaja Kallas"]
