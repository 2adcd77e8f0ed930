"""A new feed's backlog: which entries of its first successful poll are old news.

Owns one decision: on the first poll that succeeds for a feed, entries published more
than `fetch.first_poll_alert_hours` ago (or without any date) are its backlog. They are
recorded as seen, so they never alert, then or later; the recent ones go through the
pipeline like any new entry. `first_poll_alert_hours: all` (None) alerts on everything.
Pure: must not fetch or touch the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from monitor.models import Entry


def is_first_poll(feed: dict) -> bool:
    """No poll of this feed has succeeded before (its first attempts may have failed)."""
    return not feed.get("last_success") and not feed.get("entries_seen")


def split_backlog(entries: Sequence[Entry], now: datetime, alert_hours: float | None
                  ) -> tuple[list[Entry], list[Entry]]:
    """(entries to treat as new, backlog entries to record as seen only)."""
    if alert_hours is None:
        return list(entries), []
    cutoff = now - timedelta(hours=alert_hours)
    fresh: list[Entry] = []
    old: list[Entry] = []
    for e in entries:
        when = e.published or e.updated
        (fresh if when is not None and when >= cutoff else old).append(e)
    return fresh, old
