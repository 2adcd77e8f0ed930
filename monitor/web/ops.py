"""The operations pages: `/healthz` (the daemon's heartbeat) and Prometheus `/metrics`.

Owns what operators and monitoring systems read: health from the heartbeat the daemon
writes after each poll cycle, and gauges computed from the state database at scrape
time on a connection of their own. Served by the web interface (monitor.web.routes_ops),
off the event loop. Must not change state.
"""

from __future__ import annotations

import json
from datetime import datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from monitor import metrics
from monitor.store.sqlite import db_bytes, now_utc
from monitor.web.db import PgTarget, Target, one, reading, rows

COUNTS = {
    "feeds_failing": ("Active feeds whose last poll failed",
                      "SELECT count(*) FROM feeds WHERE error_count > 0 AND state = 'active'"),
    "feeds_slow": ("Active feeds whose last poll was cut off at its deadline",
                   "SELECT count(*) FROM feeds WHERE slow IS NOT NULL AND state = 'active'"),
    "articles_unmatched": ("Articles stored unmatched: matching ran past its limit",
                           "SELECT count(*) FROM articles WHERE unmatched IS NOT NULL"),
    "articles": ("Articles stored", "SELECT count(*) FROM articles"),
    "matches": ("Rule matches stored", "SELECT count(*) FROM matches"),
    "outbox_pending": ("Matched items waiting for delivery", "SELECT count(*) FROM outbox WHERE status = 'pending'"),
    "deliveries_pending": ("Deliveries waiting for (re)try", "SELECT count(*) FROM deliveries WHERE status = 'pending'"),
    "deliveries_failed": ("Deliveries given up after retries",
                          "SELECT count(*) FROM deliveries WHERE status = 'failed'"),
}


class StoreCollector:
    """Gauges computed from the state database on each scrape."""

    def __init__(self, state_path: Target):
        self.state_path = state_path

    def collect(self):
        with reading(self.state_path) as conn:
            counts = {k: conn.execute(sql).fetchone()[0] for k, (_, sql) in COUNTS.items()}
            states = rows(conn, "SELECT state, count(*) AS n FROM feeds GROUP BY state")
            last = one(conn, "SELECT * FROM cycles WHERE kind = 'poll' ORDER BY id DESC LIMIT 1")
            size = (conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
                    if isinstance(self.state_path, PgTarget) else db_bytes(self.state_path))
        feeds = GaugeMetricFamily("monitor_feeds", "Feeds by state", labels=["state"])
        for row in states:
            feeds.add_metric([row["state"]], row["n"])
        yield feeds
        for key, (help_, _) in COUNTS.items():
            yield GaugeMetricFamily(f"monitor_{key}", help_, value=counts[key])
        if last:
            finished = datetime.fromisoformat(last["finished"]).timestamp()
            summary = json.loads(last["summary"])
            yield GaugeMetricFamily("monitor_last_poll_timestamp_seconds", "End of the last poll cycle",
                                    value=finished)
            yield GaugeMetricFamily("monitor_last_poll_duration_seconds", "Duration of the last poll cycle",
                                    value=summary.get("seconds", 0))
        yield GaugeMetricFamily("monitor_db_bytes", "Size of the state database", value=size)


def metrics_text(state_path: Target) -> bytes:
    registry = CollectorRegistry()
    registry.register(StoreCollector(state_path))
    registry.register(metrics.REGISTRY)         # the daemon's own counters and histograms
    return generate_latest(registry)


def healthy(state_path: Target, max_silence_seconds: float) -> tuple[bool, str]:
    """Healthy when the daemon's heartbeat (written after each poll cycle) is recent."""
    try:
        with reading(state_path) as conn:
            beat = one(conn, "SELECT value, updated FROM meta WHERE key = 'heartbeat'")
    except Exception as exc:  # a missing or locked database is unhealthy, never a traceback
        return False, f"state database unreadable: {exc}"
    if beat is None:
        return False, "no poll cycle has finished yet"
    age = (now_utc() - datetime.fromisoformat(beat["updated"])).total_seconds()
    if age > max_silence_seconds:
        return False, f"last poll cycle finished {age:.0f}s ago"
    return True, "ok"
