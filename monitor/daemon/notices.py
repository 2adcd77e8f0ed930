"""Being told: a delivery channel in trouble is reported through the other channels.

Owns one decision per channel: it has been retrying a delivery for longer than
`digest.channel_alert_after_minutes`, or it gave up a delivery. Then a system notice is
queued, once per episode, to every other enabled channel, the way a match is: as a
high-priority item of the rule `monitor-channel-health` in the outbox, so it goes out at
once on immediate channels and in the next digest elsewhere, is retried like any
delivery, and survives restarts. Must not send anything itself, nor render.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from monitor.config.settings import Config
from monitor.models import Article, Match

log = logging.getLogger("monitor.daemon.notices")

NOTICE_RULE = "monitor-channel-health"
NOTICE_FEED = "monitor://system"


def _trouble(store: Any, name: str, health: dict[str, Any], now: datetime,
             after: timedelta) -> tuple[str, str] | None:
    """(episode key, what to say) when the channel is in trouble, else None."""
    since = health.get("retrying_since")
    if since and now - datetime.fromisoformat(since) > after:
        return (f"retrying-{since}", f"Delivery channel '{name}' has been failing since {since}: its deliveries "
                f"are being retried (next attempt {health.get('next_attempt')}). Last error: {health.get('last_error')}")
    if health.get("last_outcome") == "failed":
        last = store.rows("SELECT id, created, attempts, last_error FROM deliveries WHERE channel = ? "
                          "AND status = 'failed' ORDER BY created DESC LIMIT 1", [name])
        if last:
            d = last[0]
            return (f"failed-{d['id']}", f"Delivery channel '{name}' gave up a delivery created {d['created']} after "
                    f"{d['attempts']} attempts; its items were not delivered there. Last error: {d['last_error']}")
    return None


def queue_channel_notices(store: Any, config: Config, now: datetime) -> int:
    """Queue a notice on the other channels for each channel newly in trouble; returns how many were queued."""
    after = timedelta(minutes=config.digest.channel_alert_after_minutes)
    health = store.channel_health()
    queued = 0
    for ch in config.channels:
        found = _trouble(store, ch.name, health.get(ch.name, {}), now, after)
        if found is None:
            continue
        key, text = found
        others = tuple(c.name for c in config.channels if c.name != ch.name)
        url = f"monitor://notice/{ch.name}/{key}"
        if not others:
            continue
        article = Article(url=url, feed_url=NOTICE_FEED, guid=url, title=f"monitor: channel '{ch.name}' is failing",
                          summary=text, text=text, published=now, source="monitor", text_source="feed")
        match = Match(rule=NOTICE_RULE, priority="high", title="monitor: delivery channel health", channels=others)
        if store.save_feed_items(NOTICE_FEED, [], [(article, [match], others)], {}):
            log.warning("%s; told %s", text, ", ".join(others),
                        extra={"event": "channel_failing", "channel": ch.name, "told": list(others)})
            queued += 1
    return queued
