"""A new feed's first poll records its backlog as seen and alerts only on recent items
(`fetch.first_poll_alert_hours`, default 24; `all` alerts on everything)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from monitor.config import settings as config_mod
from monitor.daemon import pipeline
from monitor.daemon import run as daemon
from tests.localsite import Site, hours_ago, rss


def make_config(tmp: Path, site: Site, alert_hours: str | None) -> config_mod.Config:
    rules = tmp / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "r.yaml").write_text("rules:\n  - id: accord\n    query: '\"Halvorsen Accord\"'\n")
    extra = f", first_poll_alert_hours: {alert_hours}" if alert_hours else ""
    return config_mod.parse(f"""
state: {{path: {tmp}/m.db, digests_dir: {tmp}/digests}}
rules: {{path: {rules}}}
fetch: {{allow_private: ["127.0.0.1/32"], full_text: false, respect_robots: false{extra}}}
channels: [{{name: desk, type: file}}]
feeds: [{{url: "{site.base}/feed.xml"}}]
""", "c.yaml", tmp)


def poll(cfg: config_mod.Config) -> tuple[pipeline.CycleSummary, int, list[str]]:
    async def go():
        async with daemon.open_deps(cfg, use_pool=False) as deps:
            summary = await pipeline.poll_cycle(deps, every_feed=True)
            queued = deps.store.rows("SELECT a.guid FROM outbox o JOIN articles a ON a.id = o.article_id "
                                     "ORDER BY a.guid")
            return summary, deps.store.counts()["articles"], [r["guid"] for r in queued]
    return asyncio.run(go())


BACKLOG = [("old1", "Old one", hours_ago(24 * 30)), ("old2", "Old two", hours_ago(48)),
           ("undated", "No date", None), ("new1", "Fresh one", hours_ago(2)), ("new2", "Fresh two", hours_ago(20))]


@pytest.mark.parametrize("setting, expected", [
    (None, ["new1", "new2"]),                   # the default: the last 24 hours
    ("6", ["new1"]),
    ("all", ["new1", "new2", "old1", "old2", "undated"]),
])
def test_first_poll_alerts_only_on_recent_items(tmp_path, setting, expected):
    with Site() as site:
        site.pages["/feed.xml"] = (200, "application/rss+xml", rss(site.base, BACKLOG))
        cfg = make_config(tmp_path, site, setting)
        summary, articles, queued = poll(cfg)
        assert queued == expected
        assert articles == len(expected)
        assert summary.feeds[0].status == "ok"
        # the backlog is seen: a later poll adds only what the publisher adds, and alerts on it
        # even though it is old (only the first poll has a backlog)
        site.pages["/feed.xml"] = (200, "application/rss+xml",
                                   rss(site.base, [*BACKLOG, ("late", "Late but new", hours_ago(24 * 10))]))
        _, articles, queued = poll(cfg)
        assert queued == sorted([*expected, "late"])
        assert articles == len(expected) + 1


def test_a_feed_whose_first_attempts_failed_still_gets_its_backlog_treatment(tmp_path):
    with Site() as site:
        site.pages["/feed.xml"] = (500, "text/plain", b"down")
        cfg = make_config(tmp_path, site, None)
        summary, _, _ = poll(cfg)
        assert summary.feeds[0].status == "failed"
        site.pages["/feed.xml"] = (200, "application/rss+xml", rss(site.base, BACKLOG))
        _, _, queued = poll(cfg)
        assert queued == ["new1", "new2"]
