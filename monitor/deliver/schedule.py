"""Pure schedule logic for deliveries: functions of a config and a clock, no I/O.

Owns `previous_slot` (the latest send time of a schedule), `in_quiet_hours`, `due_channels`
(whose scheduled digest is due), `plan` (what a channel sends now: a digest, or alerts
within the per-rule limit, each alert carrying every pending row of its story so an article
is delivered once, listed with every rule it matched) and `next_retry` (backoff).
Must not touch the store, render or send.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from monitor.config.settings import SCHEDULE_RE, Config
from monitor.deliver.digest import story_key

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=1)


def previous_slot(schedule: str, local: datetime) -> datetime:
    """The latest scheduled send time at or before `local` (an aware local time).

    `immediate` channels get an hourly slot too: it flushes what the alert limit held back.
    """
    m = SCHEDULE_RE.match(schedule)
    if m is None:
        raise ValueError(f"bad schedule {schedule!r}")
    top = local.replace(second=0, microsecond=0)
    if m["dh"] is not None:
        slot = top.replace(hour=int(m["dh"]), minute=int(m["dm"]))
        return slot if slot <= local else slot - timedelta(days=1)
    if m["day"] is not None:
        slot = top.replace(hour=int(m["wh"]), minute=int(m["wm"]))
        slot -= timedelta(days=(local.weekday() - DAYS.index(m["day"].lower()[:3])) % 7)
        return slot if slot <= local else slot - timedelta(days=7)
    return top.replace(minute=0)


def _clock(s: str) -> time:
    h, m = s.split(":")
    return time(int(h), int(m))


def in_quiet_hours(quiet: str | None, local: datetime) -> bool:
    """Whether `local` falls in a window like "22:00-07:00" (which may span midnight)."""
    if not quiet:
        return False
    start, end = (_clock(x) for x in quiet.split("-"))
    t = local.time()
    if start <= end:
        return start <= t < end
    return t >= start or t < end


def due_channels(config: Config, last_sent: dict[str, datetime], now: datetime) -> list[str]:
    """Channels whose scheduled digest is due: a slot passed since the last one, outside quiet hours.

    A channel with no recorded digest is due at once; delivery.py sends that first digest at
    the first run that finds items pending (not at start, before anything was fetched), so
    nothing waits for a slot that passed before the daemon first started.
    """
    local = now.astimezone(ZoneInfo(config.digest.timezone))
    if in_quiet_hours(config.digest.quiet_hours, local):
        return []
    return [ch.name for ch in config.channels
            if ch.name not in last_sent or last_sent[ch.name] < previous_slot(ch.schedule, local)]


@dataclass(frozen=True)
class Plan:
    kind: str                     # "digest" or "alert"
    rows: list[dict]


def plan(schedule: str, rows: list[dict], *, digest_due: bool, quiet: bool,
         alert_counts: dict[str, int], per_rule_per_hour: int) -> Plan | None:
    """What to send on a channel now, if anything.

    A due digest takes every pending row. Otherwise alerts go out at once: high-priority
    rows on every channel (even in quiet hours), all rows on `immediate` channels outside
    quiet hours; at most `per_rule_per_hour` rows per rule, the rest wait for the next digest.
    An alert also takes every other pending row of the stories it carries (other rules).
    Rows marked `digest_only` (follow-up coverage of a story already alerted) wait for a digest.
    """
    if digest_due:
        return Plan("digest", rows)
    urgent = [r for r in rows if not r.get("digest_only")
              and (r["priority"] == "high" or (schedule == "immediate" and not quiet))]
    used = Counter(alert_counts)
    chosen = []
    for r in urgent:
        if used[r["rule"]] < per_rule_per_hour:
            used[r["rule"]] += 1
            chosen.append(r)
    if not chosen:
        return None
    # An article goes out once per channel: its other rules' rows (and its story's) go with it.
    stories = {_story(r) for r in chosen}
    ids = {id(r) for r in chosen}
    return Plan("alert", [r for r in rows if id(r) in ids or _story(r) in stories])


def _story(row: dict) -> str:
    return story_key(row) if "id" in row else f"outbox:{row.get('outbox_id')}"


def next_retry(created: datetime, attempts: int, now: datetime, retry_for: timedelta) -> datetime | None:
    """When to try a failed delivery again (doubling from a minute, capped at an hour); None = give up."""
    deadline = created + retry_for
    if now >= deadline:
        return None
    return min(now + min(RETRY_BASE * 2 ** min(attempts, 20), RETRY_CAP), deadline)
