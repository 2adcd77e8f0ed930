"""Next-poll scheduling (first version)."""

from __future__ import annotations

from datetime import datetime, timedelta


def next_poll_after_success(now, entry_times, settings, feed_interval, ttl_minutes, max_age) -> datetime:
    return now + timedelta(minutes=feed_interval or settings.default_interval_minutes)


def next_poll_after_failure(now, consecutive_failures, retry_after, settings) -> datetime:
    minutes = min(settings.max_interval_minutes, settings.min_interval_minutes * 2 ** (consecutive_failures - 1))
    return now + timedelta(seconds=max(retry_after or 0, minutes * 60))
