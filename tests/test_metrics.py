"""Counters and histograms from the running code: feed polls by outcome and error kind, fetch
latency, articles, matches by rule, deliveries by channel and outcome; served on /metrics."""

from __future__ import annotations

import asyncio
from pathlib import Path

from monitor import metrics
from monitor.config import settings as config_mod
from monitor.daemon import pipeline
from monitor.daemon import run as daemon
from monitor.deliver.delivery import run_digests
from monitor.web.ops import metrics_text
from tests.localsite import Site, hours_ago, rss


def value(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(state: Path) -> str:
    return metrics_text(state).decode()     # what /metrics serves


def test_a_poll_and_a_delivery_move_the_counters(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yaml").write_text("rules:\n  - id: accord\n    query: Halvorsen\n")
    ok0, failed0 = value("monitor_feed_polls_total", outcome="ok"), value("monitor_feed_polls_total", outcome="failed")
    e404 = value("monitor_feed_errors_total", kind="http_4xx")
    feeds0 = value("monitor_fetch_seconds_count", what="feed")
    matches0 = value("monitor_matches_total", rule="accord")
    sent0 = value("monitor_deliveries_total", channel="desk", outcome="sent")
    with Site() as site:
        site.pages["/feed.xml"] = (200, "application/rss+xml",
                                   rss(site.base, [("a", "One", hours_ago(1)), ("b", "Two", hours_ago(2))]))
        cfg = config_mod.parse(f"""
state: {{path: {tmp_path}/m.db, digests_dir: {tmp_path}/digests}}
rules: {{path: {rules}}}
fetch: {{allow_private: ["127.0.0.1/32"], full_text: false}}
channels: [{{name: desk, type: file, schedule: immediate}}]
feeds: [{{url: "{site.base}/feed.xml"}}, {{url: "{site.base}/missing.xml"}}]
""", "c.yaml", tmp_path)

        async def go():
            async with daemon.open_deps(cfg, use_pool=False) as deps:
                await pipeline.poll_cycle(deps, every_feed=True)
                await run_digests(deps.store, cfg)
        asyncio.run(go())
    assert value("monitor_feed_polls_total", outcome="ok") == ok0 + 1
    assert value("monitor_feed_polls_total", outcome="failed") == failed0 + 1
    assert value("monitor_feed_errors_total", kind="http_4xx") == e404 + 1
    assert value("monitor_fetch_seconds_count", what="feed") == feeds0 + 2
    assert value("monitor_matches_total", rule="accord") == matches0 + 2
    assert value("monitor_deliveries_total", channel="desk", outcome="sent") >= sent0 + 1
    text = scrape(tmp_path / "m.db")
    assert 'monitor_feed_polls_total{outcome="ok"}' in text
    assert 'monitor_fetch_seconds_bucket{le="0.05",what="feed"}' in text
    assert 'monitor_deliveries_total{channel="desk",outcome="sent"}' in text
    assert "monitor_articles 2.0" in text            # the store's gauges are still there


def test_error_kinds():
    assert metrics.error_kind("FetchError: timeout after 5s: http://x") == "timeout"
    assert metrics.error_kind("HTTP 503") == "http_5xx"
    assert metrics.error_kind("BlockedAddress: 10.0.0.1 is not public") == "blocked"
    assert metrics.error_kind("FeedParseError: not a feed: <html>") == "parse"
    assert metrics.error_kind("FetchError: connection refused") == "network"
