"""The story window against publishers' wrong dates: the farm's future-date, past-date and no-date feeds.

A publisher's date is trusted for the story window only when it is plausible against the
time monitor first saw the article; the daemon (two `poll --once` processes, so the second
one rebuilds the index from the store) must fold the farm's articles exactly as its truth.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.store.sqlite import Store
from monitor.stories.index import StoryIndex, window_time
from tests.farm import Farm, write_config

REPO = Path(__file__).resolve().parents[1]
SEEN = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
WINDOW = timedelta(hours=72)
SKEW = timedelta(minutes=15)

BODY = ("The harbour authority of Alder Crest said on Tuesday that the northern pier would close for "
        "repairs after storm damage, and that ferries to the islands would use the old quay until "
        "spring. Engineers found cracks in three of the pier's supports during an inspection last "
        "week, the authority said, and the repair is expected to cost about four million euros. "
        "Local businesses asked for the works to be finished before the summer season begins.")


def test_a_plausible_publisher_date_is_kept_and_an_implausible_one_is_replaced_by_first_seen():
    assert window_time(SEEN - timedelta(hours=5), SEEN, WINDOW, SKEW) == SEEN - timedelta(hours=5)
    assert window_time(SEEN + timedelta(minutes=10), SEEN, WINDOW, SKEW) == SEEN + timedelta(minutes=10)
    assert window_time(SEEN + timedelta(hours=2), SEEN, WINDOW, SKEW) == SEEN          # time-zone slip
    assert window_time(datetime(2030, 1, 1, tzinfo=UTC), SEEN, WINDOW, SKEW) == SEEN   # "2030" typo
    assert window_time(SEEN - timedelta(days=15 * 365), SEEN, WINDOW, SKEW) == SEEN    # archive re-published
    assert window_time(SEEN - WINDOW - timedelta(seconds=1), SEEN, WINDOW, SKEW) == SEEN
    assert window_time(None, SEEN, WINDOW, SKEW) == SEEN


def test_one_future_dated_item_does_not_switch_off_story_folding_for_everyone():
    index = StoryIndex()
    index.assign("https://a.example/1", "Pier closes", BODY, SEEN - timedelta(minutes=30), SEEN)
    future = index.assign("https://typo.example/x", "Unrelated", "Completely different words about a "
                          "cycling race in the mountains, the riders and the weather " * 3,
                          datetime(2030, 1, 1, tzinfo=UTC), SEEN)
    assert future.published == SEEN
    later = SEEN + timedelta(hours=1)
    copy = index.assign("https://b.example/2", "Northern pier to close", BODY, later - timedelta(minutes=5), later)
    assert copy.story_key == "https://a.example/1"
    undated = index.assign("https://c.example/3", "Pier", BODY + " (Reuters)", None, later)
    assert undated.story_key == "https://a.example/1" and undated.published == later


def test_a_restart_reload_applies_the_same_rule_to_rows_stored_with_a_wrong_date(tmp_path):
    store = Store(tmp_path / "m.db")
    first = StoryIndex()
    a = first.assign("https://a.example/1", "Pier closes", BODY, SEEN, SEEN)
    # a row as an older version stored it: the publisher's 2030 date as the window time
    legacy = first.assign("https://typo.example/x", "Typo", "other words entirely " * 20,
                          datetime(2030, 1, 1, tzinfo=UTC))
    assert legacy.published.year == 2030
    store.save_story_signatures([a, legacy])
    store.db.execute("UPDATE story_signatures SET seen = ? WHERE article_url = ?",
                     [SEEN.isoformat(), legacy.article_key])
    rebuilt = StoryIndex()
    assert rebuilt.load(store.story_signatures(since=SEEN - WINDOW), now=SEEN) == 2
    later = SEEN + timedelta(hours=2)
    copy = rebuilt.assign("https://b.example/2", "Pier", BODY, later, later)
    assert copy.story_key == "https://a.example/1"      # the 2030 row did not evict the story
    store.close()


def _poll(cfg: Path) -> str:
    out = subprocess.run([sys.executable, "-m", "monitor", "--config", str(cfg), "poll", "--once", "--all"],
                         capture_output=True, text=True, cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def _partition(groups: dict) -> set[frozenset]:
    return {frozenset(v) for v in groups.values()}


def test_farm_feeds_with_wrong_dates_fold_as_the_truth_across_a_restart(tmp_path):
    faults = {2: "future-date", 5: "past-date", 7: "no-date"}
    args = ["--feeds", "12", "--items", "8", "--seed", "3", "--syndication", "0.6"]
    for n, kind in faults.items():
        args += ["--fault", f"{n}={kind}"]
    with Farm(*args) as farm:
        feeds = farm.feed_urls()
        # first the even outlets, then all of them in a new process, which rebuilds the index
        # from the store: copies of a story polled before the restart must still be joined
        cfg = write_config(tmp_path, feeds[::2], rules=REPO / "tests" / "e2e_rules", fetch="respect_robots: false")
        assert "6 ok" in _poll(cfg)
        before = farm.truth()["articles"]              # the truth lists the articles feeds carry now
        farm.advance(4)
        cfg = write_config(tmp_path, feeds, rules=REPO / "tests" / "e2e_rules", fetch="respect_robots: false")
        assert "12 ok" in _poll(cfg)
        after = farm.truth()["articles"]
    db = sqlite3.connect(tmp_path / "state" / "monitor.db")
    stored = {url: sid for url, sid in db.execute("SELECT url, COALESCE(story_id, id) FROM articles")}
    shown = dict(db.execute("SELECT url, published FROM articles"))
    db.close()
    # what each poll saw: the even outlets' items then, every outlet's items now
    first_poll = {a["url"] for a in before if a["outlet"] % 2 == 0}
    truth = list({a["url"]: a for a in [*before, *after] if a["url"] in first_poll or a in after}.values())
    true_groups: dict[int, set[str]] = defaultdict(set)
    for a in truth:
        true_groups[a["story"]].add(a["url"])
    assert set(stored) == {a["url"] for a in truth}
    faulty_in_shared = {a["outlet"] for a in truth if a["outlet"] in faults and len(true_groups[a["story"]]) > 1}
    assert faulty_in_shared == set(faults), "each faulty outlet must carry a story others carry too"
    assert any(g & first_poll and g - first_poll for g in true_groups.values()), "no story spans the restart"
    pred_groups: dict[int, set[str]] = defaultdict(set)
    for url, sid in stored.items():
        pred_groups[sid].add(url)
    assert _partition(pred_groups) == _partition(true_groups)
    # the publisher's date is kept for display, wrong as it is
    future = [a["url"] for a in truth if a["outlet"] == 2]
    assert all(shown[u] and shown[u] >= "2030" for u in future)
    assert all(shown[u] is None for u in (a["url"] for a in truth if a["outlet"] == 7))
