"""The story index on hand-written near-copies, its time window, and its round trip through the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.models import Article, Entry, Match
from monitor.store.sqlite import Store
from monitor.stories.index import StoryIndex

T0 = datetime(2026, 1, 28, 9, 0, tzinfo=UTC)

LEAD = ("Dock workers at the port of Rotterdam walked out on Monday in a dispute over automation, halting "
        "container traffic at Europe's largest port for the first time in more than a decade.")
ROTTERDAM = [
    LEAD,
    "The FNV union said about 3,000 members joined the strike after talks with terminal operators broke "
    "down late on Sunday. The union wants guarantees that no jobs will be lost as operators introduce "
    "automated cranes over the next five years.",
    "Terminal operators said they had offered a retraining programme and a hiring freeze instead of "
    "compulsory redundancies, and accused the union of walking away from a reasonable deal.",
    "Shipping lines began diverting vessels to Antwerp and Hamburg within hours. Analysts at a Copenhagen "
    "consultancy estimated that each day of the strike would delay about 40,000 containers.",
    "The Dutch economy minister urged both sides to return to the table and said the government was "
    "ready to appoint a mediator if no agreement was reached by Wednesday.",
    "The last national dock strike in the Netherlands, in 2012, lasted nine days and cost the port an "
    "estimated 150 million euros in lost business, according to the port authority.",
]
# the same wire story, lightly edited by another outlet: new lead, a paragraph dropped, own boilerplate
ROTTERDAM_EDITED = [
    "Container traffic at Rotterdam ground to a halt on Monday as dockers struck over plans to automate "
    "the cranes at Europe's busiest port.",
    *ROTTERDAM[1:3], *ROTTERDAM[4:],
    "Sign up for our morning briefing to get the stories that matter in your inbox. "
    "Copyright 2026 The Daily Ledger. All rights reserved.",
]
# a different strike on the same day, written with the same trade vocabulary
ANTWERP = [
    "Dock workers at the port of Antwerp walked out on Tuesday in a dispute over pay, the second stoppage "
    "at Belgium's largest port this year.",
    "The ACV union said most of its members on the terminals joined the strike after the employers "
    "federation refused to index wages to inflation for a second year running.",
    "Terminal operators said the union's demand would raise labour costs by eight percent and accused "
    "it of ignoring the pressure from cheaper ports in the Mediterranean.",
    "Shipping lines said they would divert some vessels to Rotterdam and Zeebrugge, although Rotterdam is "
    "itself affected by a separate dispute over automation.",
    "The Belgian labour minister said she would meet both sides on Thursday and urged them to avoid a "
    "repeat of the week-long stoppage of 2019, which delayed thousands of containers.",
]


def text(paragraphs: list[str]) -> str:
    return "\n".join(paragraphs)


def test_exact_copy_with_different_spacing_and_punctuation_is_the_same_story():
    index = StoryIndex()
    first = index.assign("https://a.example/rotterdam", "Rotterdam dockers strike", text(ROTTERDAM), T0)
    copy = text(ROTTERDAM).replace("\n", "\n\n").replace(",", " ,").upper()
    second = index.assign("https://b.example/wire/123", "Dockers strike in Rotterdam", copy,
                          T0 + timedelta(hours=1))
    assert first.is_new_story and first.story_key == "https://a.example/rotterdam"
    assert not second.is_new_story
    assert second.story_key == first.story_key
    assert second.similarity == 1.0 and second.similar_to == ("https://a.example/rotterdam",)
    assert second.fingerprint == first.fingerprint


def test_edited_copy_is_the_same_story():
    index = StoryIndex()
    index.assign("https://a.example/rotterdam", "Rotterdam dockers strike", text(ROTTERDAM), T0)
    edited = index.assign("https://c.example/news/rotterdam-port", "Rotterdam port halted",
                          "Advertisement\n" + text(ROTTERDAM_EDITED), T0 + timedelta(hours=3))
    assert not edited.is_new_story
    assert edited.story_key == "https://a.example/rotterdam"
    assert index.threshold <= edited.similarity < 1.0


def test_different_story_on_the_same_topic_is_a_new_story():
    # the copy level alone: the related level's hard negatives are in tests/test_stories_related.py
    index = StoryIndex(related_threshold=0)
    index.assign("https://a.example/rotterdam", "Dockers strike", text(ROTTERDAM), T0)
    index.assign("https://c.example/rotterdam", "Dockers strike", text(ROTTERDAM_EDITED), T0)
    antwerp = index.assign("https://a.example/antwerp", "Dockers strike", text(ANTWERP), T0)
    assert antwerp.is_new_story
    assert antwerp.story_key == "https://a.example/antwerp"
    assert antwerp.similar_to == ()


def test_same_boilerplate_does_not_merge_short_different_stories():
    boiler = ("Sign up for our morning briefing to get the stories that matter in your inbox. "
              "Copyright 2026 The Daily Ledger. All rights reserved. Follow us on social media.")
    index = StoryIndex()
    index.assign("https://a.example/1", "Fire", "A fire closed the A12 near Utrecht for three hours on "
                 "Sunday night, police said. " + boiler, T0)
    other = index.assign("https://a.example/2", "Vote", "The city council voted to extend the tram line "
                         "to the new hospital by 2029. " + boiler, T0)
    assert other.is_new_story


def test_a_copy_outside_the_window_starts_a_new_story():
    index = StoryIndex(window_hours=72)
    index.assign("https://a.example/r", "Strike", text(ROTTERDAM), T0)
    late = index.assign("https://b.example/r", "Strike", text(ROTTERDAM), T0 + timedelta(hours=73))
    assert late.is_new_story
    # and the old article has been evicted from the index altogether
    assert "https://a.example/r" not in index and len(index) == 1


def test_a_late_arrival_published_inside_the_window_still_joins():
    index = StoryIndex(window_hours=72)
    index.assign("https://a.example/r", "Strike", text(ROTTERDAM), T0)
    index.assign("https://x.example/other", "Other", text(ANTWERP), T0 + timedelta(hours=48))
    late = index.assign("https://b.example/r", "Strike", text(ROTTERDAM_EDITED), T0 + timedelta(hours=1))
    assert late.story_key == "https://a.example/r"


def test_reassigning_a_known_article_keeps_its_story():
    index = StoryIndex()
    index.assign("https://a.example/r", "Strike", text(ROTTERDAM), T0)
    index.assign("https://b.example/r", "Strike", text(ROTTERDAM_EDITED), T0)
    again = index.assign("https://b.example/r", "Strike", text(ROTTERDAM_EDITED) + " Updated.", T0)
    assert again.story_key == "https://a.example/r" and not again.is_new_story
    assert len(index) == 2


def test_undated_article_counts_as_current():
    index = StoryIndex()
    index.assign("https://a.example/r", "Strike", text(ROTTERDAM), T0)
    undated = index.assign("https://b.example/r", "Strike", text(ROTTERDAM), None)
    assert undated.story_key == "https://a.example/r" and undated.published == T0


@pytest.fixture()
def store(tmp_path):
    s = Store(tmp_path / "state.db")
    yield s
    s.close()


def _save(store: Store, index: StoryIndex, url: str, feed: str, paragraphs: list[str], when: datetime,
          rule_channels: list[str]) -> tuple[int, int]:
    """What the pipeline does for one article: assign, skip channels already queued, save, keep the story."""
    a = index.assign(url, "Strike", text(paragraphs), when)
    channels = rule_channels
    if not a.is_new_story:
        story_id = store.story_id_of(a.story_key)
        channels = [ch for ch in rule_channels if not store.story_already_queued(story_id, "ports", ch)]
    article = Article(url=url, feed_url=feed, guid=url, title="Strike", text=text(paragraphs),
                      published=when, source=feed)
    matches = [Match(rule="ports", channels=tuple(channels))] if channels else []
    with store.transaction():
        ids = store.save_feed_items(feed, [Entry(feed_url=feed, guid=url, url=url)],
                                    [(article, matches, [])], {})
        store.save_story_signatures([a])
    return ids[0], store.story_id_of(url)


def test_store_keeps_stories_and_a_later_copy_is_not_queued_again(store):
    index = StoryIndex()
    first_id, first_story = _save(store, index, "https://a.example/r", "feed-a", ROTTERDAM, T0,
                                  ["email", "webhook"])
    copy_id, copy_story = _save(store, index, "https://c.example/r", "feed-c", ROTTERDAM_EDITED,
                                T0 + timedelta(hours=2), ["email", "slack"])
    other_id, other_story = _save(store, index, "https://a.example/antwerp", "feed-a", ANTWERP, T0,
                                  ["email"])
    assert first_story == first_id and copy_story == first_id and other_story == other_id
    sources = store.story_sources(first_id)
    assert [s["url"] for s in sources] == ["https://a.example/r", "https://c.example/r"]
    assert {"url", "source", "title", "published"} <= set(sources[0])
    assert store.story_already_queued(first_id, "ports", "email")
    assert not store.story_already_queued(first_id, "other-rule", "email")
    outbox = store.rows("SELECT article_id, channel FROM outbox ORDER BY article_id, channel")
    # the copy only reaches the channel the story had not been queued on
    assert outbox == [{"article_id": first_id, "channel": "email"}, {"article_id": first_id, "channel": "webhook"},
                      {"article_id": copy_id, "channel": "slack"}, {"article_id": other_id, "channel": "email"}]
    row = store.rows("SELECT content_hash FROM articles WHERE id = ?", [first_id])[0]
    assert row["content_hash"]


def test_index_rebuilt_from_the_store_finds_earlier_stories(store):
    index = StoryIndex()
    first_id, _ = _save(store, index, "https://a.example/r", "feed-a", ROTTERDAM, T0, ["email"])
    _save(store, index, "https://a.example/antwerp", "feed-a", ANTWERP, T0, ["email"])

    restarted = StoryIndex()
    assert restarted.load(store.story_signatures(since=T0 - timedelta(hours=72))) == 2
    later = restarted.assign("https://c.example/r", "Strike", text(ROTTERDAM_EDITED), T0 + timedelta(hours=5))
    assert later.story_key == "https://a.example/r"
    assert store.story_signatures(since=T0 + timedelta(hours=1)) == []
    assert store.prune_story_signatures(T0 + timedelta(hours=1)) == 2


def test_material_update_requeues_the_article(store):
    index = StoryIndex()
    art_id, _ = _save(store, index, "https://a.example/r", "feed-a", ROTTERDAM, T0, ["email"])
    # as if the digest job had sent it (create_delivery is the delivery module's business)
    store.db.execute("UPDATE outbox SET status = 'sent', delivery_id = 'd1'")
    assert store.pending_items("email") == []
    assert store.mark_article_updated("https://a.example/r", text(ANTWERP), "h2") == art_id
    pending = store.pending_items("email")
    assert [p["id"] for p in pending] == [art_id] and pending[0]["updated"] == 1
    assert store.mark_article_updated("https://nowhere.example/", "x", "h") is None
