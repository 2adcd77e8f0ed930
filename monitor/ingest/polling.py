"""When to poll a feed next: pure functions of the clock, the feed's history and settings.

Owns the adaptive schedule (busy feeds often, quiet feeds rarely, within
min/max_interval_minutes; a per-feed interval overrides the estimate), the publisher's
hints (RSS <ttl>, Cache-Control max-age, Retry-After) and the exponential backoff with
jitter after failures. A feed is never given up: at worst it is tried every
max_interval_minutes (or what Retry-After asks, capped at a day).
Must not do I/O; randomness comes in through `rand` so tests can pin it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from monitor.config.settings import FetchSettings

MAX_RETRY_AFTER = 24 * 3600.0      # a server asking for a week's silence gets a day
JITTER = 0.1                        # success: up to +10%, so feeds added together drift apart
SAMPLE = 20                         # publishing rate from the newest entries only


def publishing_interval(now: datetime, entry_times: Sequence[datetime]) -> float | None:
    """Minutes between entries, judged from the newest SAMPLE of them; None without two dates.

    A feed that has gone quiet (its newest entry is older than its usual gap) is
    judged by half its silence instead, so a feed dead for a month drifts to the maximum.
    """
    skew = now + timedelta(days=1)
    times = sorted((t for t in entry_times if t is not None and t <= skew), reverse=True)[:SAMPLE]
    if len(times) < 2:
        return None
    newest, oldest = min(times[0], now), times[-1]
    gap = (newest - oldest).total_seconds() / 60 / (len(times) - 1)
    silence = (now - newest).total_seconds() / 60
    return max(gap, silence / 2)


def next_poll_after_success(now: datetime, entry_times: Sequence[datetime], settings: FetchSettings,
                            feed_interval: int | None = None, ttl_minutes: int | None = None,
                            max_age: float | None = None,
                            rand: Callable[[], float] = random.random) -> datetime:
    """The next poll after a successful fetch (200 or 304).

    On a 304 pass no entry_times: the feed gets the default interval (or its override).
    """
    lo, hi = settings.min_interval_minutes, settings.max_interval_minutes
    if feed_interval:
        minutes = float(feed_interval)
        hi = max(hi, feed_interval)
    else:
        estimate = publishing_interval(now, entry_times)
        minutes = float(settings.default_interval_minutes if estimate is None else estimate)
        minutes = min(max(minutes, lo), hi)
    # the publisher's own hints are a floor: polling sooner only earns the same document
    hint = max(float(ttl_minutes or 0), (max_age or 0.0) / 60)
    minutes = min(max(minutes, hint), hi)
    minutes *= 1 + JITTER * rand()
    return now + timedelta(minutes=minutes)


def backoff_minutes(consecutive_failures: int, settings: FetchSettings) -> float:
    """The ceiling of the n-th failure's delay: min_interval doubling up to max_interval."""
    n = max(1, consecutive_failures)
    lo, hi = settings.min_interval_minutes, settings.max_interval_minutes
    return float(min(hi, lo * 2 ** min(n - 1, 30)))


def next_poll_after_failure(now: datetime, consecutive_failures: int, retry_after: float | None,
                            settings: FetchSettings,
                            rand: Callable[[], float] = random.random) -> datetime:
    """The next attempt after the n-th failure in a row (n counts this one).

    Exponential with "equal jitter" (half fixed, half random), so feeds that failed
    together (one host down) do not come back together; Retry-After is a floor.
    """
    ceiling = backoff_minutes(consecutive_failures, settings)
    minutes = ceiling / 2 + ceiling / 2 * rand()
    if retry_after is not None and retry_after > 0:
        minutes = max(minutes, min(retry_after, MAX_RETRY_AFTER) / 60)
    return now + timedelta(minutes=minutes)
