"""Story grouping against the feed farm (../shared/tools/feedfarm.py on 127.0.0.1) and its truth."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import httpx
import lxml.html
import pytest

from monitor.extract.article import extract
from monitor.stories.dedupe import canonical_url, is_material_update
from monitor.stories.index import StoryIndex
from tests.farm import Farm


@pytest.fixture(scope="module")
def farm():
    with Farm("--feeds", "20") as running, \
            httpx.Client(base_url=running.url, timeout=30, trust_env=False) as client:
        yield client


def page(client: httpx.Client, link: str) -> tuple[str, str, str | None]:
    html = client.get(link).raise_for_status().text
    ex = extract(html, link)
    canon = lxml.html.fromstring(html).xpath('//link[@rel="canonical"]/@href')
    # the farm's titles end in the story id: measure on the body alone, not on that
    body = "\n".join(line for line in ex.text.splitlines() if line.strip() != ex.title.strip())
    return body, ex.title, canon[0] if canon else None


@pytest.fixture(scope="module")
def grouped(farm):
    """Every farm article through canonical_url and the StoryIndex, in publication order."""
    truth = sorted(farm.get("/truth.json").json()["articles"], key=lambda a: (a["published"], a["url"]))
    index = StoryIndex()
    out = []
    for a in truth:
        link = a["url"] + ("" if a["variant"] == "original" else "?utm_source=feed&utm_medium=rss")
        body, title, canon = page(farm, link)
        key = canonical_url(link, canon)
        got = index.assign(key, a["title"], body, datetime.fromisoformat(a["published"]))
        out.append((a, key, got, body))
    return out


def test_canonical_url_drops_the_feed_tracking_and_matches_the_page(grouped):
    assert all(key == a["url"] for a, key, _, _ in grouped)


def test_copies_of_a_story_share_one_story_and_different_stories_do_not(grouped):
    by_true = defaultdict(set)
    by_pred = defaultdict(set)
    for a, _, got, _ in grouped:
        by_true[a["story"]].add(got.story_key)
        by_pred[got.story_key].add(a["story"])
    variants = {a["variant"] for a, _, got, _ in grouped if not got.is_new_story}
    assert {"syndicated", "edited"} <= variants          # the farm did give us copies of both kinds
    split = {s: keys for s, keys in by_true.items() if len(keys) > 1}
    merged = {k: stories for k, stories in by_pred.items() if len(stories) > 1}
    assert split == {} and merged == {}


def test_edited_copies_are_near_not_exact(grouped):
    edited = [got for a, _, got, _ in grouped if a["variant"] == "edited" and not got.is_new_story]
    assert edited and all(g.similarity < 1.0 for g in edited)


def test_an_entry_updated_in_place_is_not_a_material_update(farm, grouped):
    before = {a["guid"]: body for a, _, _, body in grouped}
    farm.post("/advance?steps=3").raise_for_status()
    updated = [a for a in farm.get("/truth.json").json()["articles"]
               if a["updated"] != a["published"] and a["guid"] in before]
    assert updated, "the farm updated no entry in place"
    for a in updated:
        body, _, _ = page(farm, a["url"])
        assert not is_material_update(before[a["guid"]], body, 0.8)
