"""digest.py: grouping by story and rule, snippets with highlights, subjects, escaping, JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from monitor.deliver.digest import (
    SCHEMA,
    Segment,
    build_digest,
    highlight,
    render_html,
    render_text,
    select_rows,
    snippet,
    to_json,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def row(i: int, title: str, rule: str = "kallas", *, story: int | None = None, source: str = "ERR",
        priority: str = "normal", text: str = "", hits: list | None = None, text_source: str = "page",
        published: str | None = "2026-03-02T09:30:00+00:00") -> dict:
    return {"outbox_id": 100 + i, "id": i, "rule": rule, "priority": priority, "rule_title": rule.title(),
            "url": f"https://n.example/{i}", "title": title, "summary": "", "text": text, "source": source,
            "feed_url": "https://n.example/feed", "published": published, "text_source": text_source,
            "story_id": story, "hits": json.dumps(hits or [])}


def test_highlight_marks_hits_and_ignores_bad_offsets():
    text = "Kallas met Stubb in Helsinki"
    hits = [{"field": "text", "start": 0, "end": 6}, {"field": "text", "start": 11, "end": 16},
            {"field": "text", "start": 90, "end": 95}]
    assert highlight(text, hits) == (Segment("Kallas", True), Segment(" met "), Segment("Stubb", True),
                                     Segment(" in Helsinki"))


def test_snippet_is_a_window_around_the_first_hit():
    text = "word " * 100 + "Greenland is\n  mentioned here. " + "tail " * 100
    start = text.index("Greenland")
    segs = snippet({"text": text}, [{"field": "text", "start": start, "end": start + 9}])
    joined = "".join(s.text for s in segs)
    assert [s.text for s in segs if s.hit] == ["Greenland"]
    assert "word Greenland is mentioned" in joined        # spaces around the hit kept, newlines collapsed
    assert joined.startswith("… ") and joined.endswith(" …")
    assert len(joined) < 400


def test_snippet_without_body_hits_falls_back_to_summary():
    segs = snippet({"summary": "Short summary.", "text": ""}, [{"field": "title", "start": 0, "end": 3}])
    assert segs == (Segment("Short summary."),)


def test_one_entry_per_story_with_also_reported_by():
    rows = [row(1, "EU minister resigns", story=7, source="ERR"),
            row(2, "EU minister resigns (copy)", story=7, source="Postimees"),
            row(3, "Something else", rule="safe", source="Delfi")]
    d = build_digest(rows, channel="mail", created=NOW)
    assert len(d.items) == 2
    story = next(i for i in d.items if i.key == "story:7")
    assert story.source == "ERR" and [s.source for s in story.also_reported_by] == ["Postimees"]
    assert set(story.outbox_ids) == {101, 102}
    assert set(d.outbox_ids) == {101, 102, 103}


def test_story_sources_from_store_add_also_reported_by():
    rows = [row(1, "Story", story=7, source="ERR")]
    related = {7: [{"source": "ERR", "url": "https://n.example/1"}, {"source": "BBC", "url": "https://bbc/x"}]}
    d = build_digest(rows, channel="mail", created=NOW, story_sources=related)
    assert [s.source for s in d.items[0].also_reported_by] == ["BBC"]


def test_subject_counts_per_rule():
    rows = [row(i, f"t{i}", rule) for i, rule in enumerate(
        ["kallas"] * 3 + ["safe"] * 2 + ["greenland"] * 2, start=1)]
    d = build_digest(rows, channel="mail", created=NOW)
    assert d.subject == "monitor: 7 new articles - Greenland 2, Kallas 3, Safe 2"
    assert [g.rule for g in d.groups] == ["greenland", "kallas", "safe"]     # by rule title


def test_alert_subject_names_the_story():
    d = build_digest([row(1, "Breaking: X", priority="high")], channel="m", created=NOW, kind="alert")
    assert d.subject == "monitor alert [Kallas]: Breaking: X"


@pytest.mark.parametrize("max_items,chosen,more", [(2, {1, 2, 3}, 1), (1, {1, 2}, 2), (10, {1, 2, 3, 4}, 0)])
def test_select_rows_keeps_stories_whole_and_counts_the_rest(max_items, chosen, more):
    rows = [row(1, "a", story=5), row(2, "a copy", story=5), row(3, "b"), row(4, "c", priority="low")]
    picked, left = select_rows(rows, max_items)
    assert {r["id"] for r in picked} == chosen and left == more


def test_select_rows_prefers_high_priority():
    rows = [row(1, "a"), row(2, "b"), row(3, "urgent", priority="high")]
    picked, left = select_rows(rows, 1)
    assert [r["id"] for r in picked] == [3] and left == 2


def test_html_escapes_everything_and_marks_hits():
    title = "<script>alert(1)</script> Kallas"
    text = "Body with <b>tags</b> & Kallas inside."
    t, b = title.index("Kallas"), text.index("Kallas")
    hits = [{"field": "title", "start": t, "end": t + 6}, {"field": "text", "start": b, "end": b + 6}]
    d = build_digest([row(1, title, text=text, hits=hits, source="<i>src</i>")], channel="m", created=NOW)
    html = render_html(d)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>tags</b>" not in html and "&lt;b&gt;tags&lt;/b&gt;" in html
    assert "<i>src</i>" not in html
    assert html.count('<b class="h">Kallas</b>') == 2
    assert html.count("<style") == 1                           # one block; inline only where it matters


def test_text_and_html_show_time_in_zone_marker_and_more():
    d = build_digest([row(1, "Title", text_source="feed")], channel="m", created=NOW,
                     timezone="Europe/Tallinn", more=4)
    text, html = render_text(d), render_html(d)
    assert "11:30 EET" in text and "11:30 EET" in html         # 09:30 UTC in Tallinn (winter)
    assert "from the feed summary" in text and "from the feed summary" in html
    assert "and 4 more" in text and "and 4 more" in html
    assert "https://n.example/1" in text and 'href="https://n.example/1"' in html


def test_updated_article_is_marked():
    r = {**row(1, "Edited story"), "updated": 1}
    d = build_digest([r], channel="m", created=NOW)
    assert "[UPDATED]" in render_text(d) and "UPDATED</span>" in render_html(d)
    assert to_json(d)["items"][0]["updated"] is True
    assert "UPDATED" not in render_text(build_digest([row(1, "Fresh")], channel="m", created=NOW))


def test_json_document_is_versioned_with_highlight_offsets():
    text = "Some text about Kallas today."
    d = build_digest([row(1, "T", text=text, hits=[{"field": "text", "start": 16, "end": 22}])],
                     channel="m", created=NOW, delivery_id="d-1")
    doc = to_json(d)
    assert doc["schema"] == SCHEMA == "monitor.digest/1"
    assert doc["delivery_id"] == "d-1" and doc["count"] == 1
    item = doc["items"][0]
    (s, e), = item["highlights"]
    assert item["snippet"][s:e] == "Kallas"
    json.dumps(doc)                                             # serialisable as is


def test_empty_digest_renders():
    d = build_digest([], channel="m", created=NOW)
    assert d.subject == "monitor: no new articles"
    assert "No new articles" in render_text(d)
