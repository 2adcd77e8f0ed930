"""A feed failing for longer than fetch.feed_alert_after_hours shows in the next digest."""

import asyncio
import json
from datetime import timedelta

from monitor.config import settings as config
from monitor.config.settings import FeedSettings
from monitor.deliver.delivery import run_digests
from monitor.models import Article, Match
from monitor.store.sqlite import Store, iso, now_utc


def test_long_failing_feeds_are_reported_in_scheduled_digests(tmp_path):
    cfg = config.parse(f"""
state: {{path: {tmp_path}/m.db, digests_dir: {tmp_path}/digests}}
fetch: {{feed_alert_after_hours: 24}}
channels: [{{name: archive, type: file, schedule: hourly}}]
""")
    store = Store(cfg.state_path)
    store.sync_feeds([FeedSettings(url="https://ok/feed"), FeedSettings(url="https://dead/feed", name="Dead Desk"),
                      FeedSettings(url="https://flaky/feed")])
    now = now_utc()
    store.update_feed("https://dead/feed", error_count=40, last_error="HTTP 500",
                      failing_since=iso(now - timedelta(hours=30)))
    store.update_feed("https://flaky/feed", error_count=1, last_error="timeout",
                      failing_since=iso(now - timedelta(hours=1)))
    store.save_feed_items("https://ok/feed", [], [(Article(url="https://ok/a", feed_url="https://ok/feed",
                                                           guid="g", title="<b>Kallas</b> speaks"),
                                                   [Match("kallas")], ["archive"])], {})
    assert asyncio.run(run_digests(store, cfg, force=True))["sent"] == 1
    doc = json.loads(next((tmp_path / "digests").glob("*.json")).read_text())
    assert [a["url"] for a in doc["feed_alerts"]] == ["https://dead/feed"]
    assert doc["feed_alerts"][0]["error"] == "HTTP 500"
    assert "1 feed failing" in doc["subject"]
    text = next((tmp_path / "digests").glob("*.eml")).read_text()
    assert "Feed health: 1 failing" in text and "Dead Desk" in text
    html = next((tmp_path / "digests").glob("*.html")).read_text()
    assert "Dead Desk" in html and "&lt;b&gt;Kallas&lt;/b&gt;" in html
