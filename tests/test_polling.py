"""polling.py: schedule tables with the randomness pinned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.config.settings import FetchSettings
from monitor.ingest.polling import (
    backoff_minutes,
    next_poll_after_failure,
    next_poll_after_success,
    publishing_interval,
)

NOW = datetime(2026, 1, 28, 12, 0, tzinfo=UTC)
S = FetchSettings(min_interval_minutes=5, max_interval_minutes=360, default_interval_minutes=30)


def every(minutes: float, n: int = 10, last_ago: float = 0) -> list[datetime]:
    newest = NOW - timedelta(minutes=last_ago)
    return [newest - timedelta(minutes=minutes * i) for i in range(n)]


def mins(t: datetime) -> float:
    return round((t - NOW).total_seconds() / 60, 3)


@pytest.mark.parametrize("times,feed_interval,ttl,max_age,expected", [
    ([], None, None, None, 30),                          # 304 or no dates: the default
    (every(60, 1), None, None, None, 30),                # one date is no rate
    (every(60), None, None, None, 60),                   # hourly publisher: hourly
    (every(1), None, None, None, 5),                     # very busy: the minimum
    (every(20), None, None, None, 20),
    (every(24 * 60), None, None, None, 360),             # daily: the maximum
    (every(10, last_ago=120), None, None, None, 60),     # went quiet 2 h ago: half the silence
    (every(10, last_ago=60 * 24 * 30), None, None, None, 360),   # dead for a month: the maximum
    (every(60), 10, None, None, 10),                     # per-feed interval overrides the estimate
    (every(60), 1, None, None, 1),                       # ... and the minimum
    (every(60), 720, None, None, 720),                   # ... and the maximum
    (every(10), None, 45, None, 45),                     # RSS <ttl> is a floor
    (every(10), None, None, 1800.0, 30),                 # Cache-Control max-age is a floor
    (every(10), None, 100000, None, 360),                # a floor capped at the maximum
    (every(600), None, 15, None, 360),                   # a floor never shortens
])
def test_next_poll_after_success(times, feed_interval, ttl, max_age, expected):
    t = next_poll_after_success(NOW, times, S, feed_interval, ttl, max_age, rand=lambda: 0.0)
    assert mins(t) == expected


def test_success_jitter_is_at_most_ten_percent():
    assert mins(next_poll_after_success(NOW, [], S, rand=lambda: 1.0)) == 33
    spread = {mins(next_poll_after_success(NOW, [], S)) for _ in range(50)}
    assert len(spread) > 1 and all(30 <= m <= 33 for m in spread)


def test_future_dates_from_skewed_clocks_are_ignored():
    times = every(60) + [NOW + timedelta(days=30)]
    assert publishing_interval(NOW, times) == 60


def test_busy_feeds_are_polled_more_often_than_quiet_ones():
    busy = next_poll_after_success(NOW, every(7), S, rand=lambda: 0.0)
    quiet = next_poll_after_success(NOW, every(180), S, rand=lambda: 0.0)
    assert NOW < busy < quiet


@pytest.mark.parametrize("failures,ceiling", [(0, 5), (1, 5), (2, 10), (3, 20), (4, 40), (5, 80), (6, 160),
                                              (7, 320), (8, 360), (50, 360), (10**6, 360)])
def test_backoff_doubles_up_to_the_maximum(failures, ceiling):
    assert backoff_minutes(failures, S) == ceiling


@pytest.mark.parametrize("rand,expected", [(0.0, 20), (0.5, 30), (1.0, 40)])
def test_failure_jitter_is_between_half_and_the_whole_ceiling(rand, expected):
    assert mins(next_poll_after_failure(NOW, 4, None, S, rand=lambda: rand)) == expected


@pytest.mark.parametrize("retry_after,expected", [
    (120.0, 5),              # shorter than the backoff: the backoff wins
    (3600.0, 60),            # longer: Retry-After is a floor
    (30 * 86400.0, 1440),    # a month is capped at a day
    (0.0, 5),
])
def test_retry_after_is_a_floor(retry_after, expected):
    assert mins(next_poll_after_failure(NOW, 2, retry_after, S, rand=lambda: 0.0)) == expected


def test_never_gives_up():
    t = next_poll_after_failure(NOW, 10_000, None, S, rand=lambda: 1.0)
    assert mins(t) == S.max_interval_minutes
