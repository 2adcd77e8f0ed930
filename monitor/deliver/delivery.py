"""The digest job: which channel is due, outbox -> delivery -> send -> mark, retry/backoff.

Owns the schedule logic (pure functions of a config and a clock: `due_channels`,
`previous_slot`, `in_quiet_hours`, `plan`, `next_retry`) and the one loop that turns
pending outbox rows into deliveries. A delivery is written to the store (claiming its
outbox rows) before it is attempted and marked sent only after the channel confirms;
a failed one keeps its id and is retried with exponential backoff until
`retry_for_hours`, then marked failed. Every attempt, first or retried, re-reads its
items from the store, so a restart resumes exactly what was claimed.
Must not render (digest.py) nor speak a channel's protocol (channels/).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from monitor import metrics
from monitor.config.settings import SCHEDULE_RE, ChannelSettings, Config
from monitor.deliver.channels import Channel, make_channel
from monitor.deliver.digest import Digest, FeedAlert, build_digest, select_rows
from monitor.errors import DeliveryError
from monitor.store.sqlite import now_utc

log = logging.getLogger(__name__)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=1)


# -- pure schedule logic ---------------------------------------------------------

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

    A channel with no recorded send is due at once, so nothing waits for a slot that
    passed before the daemon first started.
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
    """
    if digest_due:
        return Plan("digest", rows)
    urgent = [r for r in rows if r["priority"] == "high" or (schedule == "immediate" and not quiet)]
    used = Counter(alert_counts)
    chosen = []
    for r in urgent:
        if used[r["rule"]] < per_rule_per_hour:
            used[r["rule"]] += 1
            chosen.append(r)
    return Plan("alert", chosen) if chosen else None


def next_retry(created: datetime, attempts: int, now: datetime, retry_for: timedelta) -> datetime | None:
    """When to try a failed delivery again (doubling from a minute, capped at an hour); None = give up."""
    deadline = created + retry_for
    if now >= deadline:
        return None
    return min(now + min(RETRY_BASE * 2 ** min(attempts, 20), RETRY_CAP), deadline)


# -- the job -------------------------------------------------------------------------

def _story_sources(store, rows: list[dict]) -> dict[int, list[dict]]:
    """Other copies of each story, when the store can tell (Store.story_sources); else none."""
    fn = getattr(store, "story_sources", None)
    out: dict[int, list[dict]] = {}
    if fn is None:
        return out
    for sid in {r["story_id"] for r in rows if r.get("story_id")}:
        try:
            out[sid] = [x if isinstance(x, dict) else {"source": getattr(x, "source", ""),
                                                       "url": getattr(x, "url", "")} for x in fn(sid)]
        except Exception:  # "also reported by" is decoration: never fail a delivery over it
            log.exception("story_sources(%s) failed", sid)
    return out


def feed_alerts(store, config: Config, now: datetime) -> tuple[FeedAlert, ...]:
    """Feeds failing for longer than `fetch.feed_alert_after_hours`, for the digest's health section."""
    cutoff = now - timedelta(hours=config.fetch.feed_alert_after_hours)
    return tuple(FeedAlert(url=f["url"], name=f["name"], failing_since=datetime.fromisoformat(f["failing_since"]),
                           failures=f["error_count"], error=f["last_error"] or "")
                 for f in store.failing_feeds(cutoff))


def _digest_for(store, config: Config, delivery: dict, now: datetime) -> Digest:
    rows = store.delivery_items(delivery["id"])
    kind = delivery.get("kind") or "digest"
    return build_digest(rows, channel=delivery["channel"], created=datetime.fromisoformat(delivery["created"]),
                        timezone=config.digest.timezone, kind=kind,
                        more=delivery.get("more") or 0, delivery_id=delivery["id"],
                        story_sources=_story_sources(store, rows),
                        feed_alerts=feed_alerts(store, config, now) if kind == "digest" else ())


async def _attempt(store, config: Config, channel: Channel, delivery: dict, now: datetime,
                   summary: Counter) -> bool:
    """Send one persisted delivery and record the outcome; True when the channel confirmed."""
    digest = _digest_for(store, config, delivery, now)
    try:
        await channel.send(digest, delivery["id"])
    except Exception as exc:  # a channel bug must not lose the delivery either: retry it the same way
        error = str(exc) if isinstance(exc, DeliveryError) else f"{type(exc).__name__}: {exc}"
        retry_at = next_retry(datetime.fromisoformat(delivery["created"]), delivery["attempts"], now,
                              timedelta(hours=config.digest.retry_for_hours))
        store.mark_delivery_failed(delivery["id"], error, retry_at)
        summary["failed" if retry_at is None else "retrying"] += 1
        metrics.delivered(delivery["channel"], "failed" if retry_at is None else "retrying")
        log.warning("delivery %s to %s failed (%s): %s", delivery["id"], delivery["channel"],
                    "giving up" if retry_at is None else f"retry at {retry_at:%H:%M:%S}", error,
                    extra={"event": "delivery_failed", "delivery_id": delivery["id"], "channel": delivery["channel"],
                           "error": error, "attempts": delivery["attempts"] + 1, "retry_at": retry_at})
        return False
    store.mark_delivered(delivery["id"])
    metrics.delivered(delivery["channel"], "sent")
    log.info("delivery %s to %s sent (%d items)", delivery["id"], delivery["channel"], len(digest.items),
             extra={"event": "delivery_sent", "delivery_id": delivery["id"], "channel": delivery["channel"],
                    "items": len(digest.items), "kind": digest.kind})
    summary["sent"] += 1
    summary["items"] += len(digest.items)
    return True


async def _run_channel(store, config: Config, ch: ChannelSettings, *, now: datetime, digest_due: bool,
                       quiet: bool, force: bool, retries: bool, summary: Counter) -> None:
    channel = make_channel(ch, config)
    if retries:
        results = [await _attempt(store, config, channel, d, now, summary)
                   for d in store.due_deliveries(now, ch.name)]
        if not all(results):
            # The channel is down: new items wait in the outbox rather than pile up failed deliveries.
            summary["held"] += len(store.pending_items(ch.name))
            return
    s = config.digest
    while True:
        rows = store.pending_items(ch.name)
        counts = store.alert_counts(ch.name, now - timedelta(hours=1))
        p = plan(ch.schedule, rows, digest_due=digest_due or force, quiet=quiet, alert_counts=counts,
                 per_rule_per_hour=s.immediate_per_rule_per_hour)
        if p is None:
            break
        picked, more = select_rows(p.rows, s.max_items)
        if p.kind == "digest":
            store.set_last_scheduled(ch.name, now)
            # An immediate channel's hourly flush is not a newsletter: never send it empty.
            if not picked and (not s.send_empty or ch.schedule == "immediate"):
                break
        delivery_id = store.create_delivery(ch.name, [r["outbox_id"] for r in picked], kind=p.kind,
                                            more=more if p.kind == "digest" else 0, now=now)
        if delivery_id is None:         # a concurrent run claimed these rows first and sends them
            break
        sent = await _attempt(store, config, channel, store.delivery(delivery_id), now, summary)
        # Only a forced send drains everything now; otherwise the rest waits for the next digest.
        if not (force and sent and more):
            break
    summary["held"] += len(store.pending_items(ch.name))


async def run_digests(store, config: Config, now: datetime | None = None, *, force: bool = False,
                      channels: list[str] | None = None, immediate_only: bool = False) -> dict[str, Any]:
    """Send what is due on every channel (or those named); returns counts.

    `force` sends everything pending now regardless of schedules and quiet hours;
    `immediate_only` (after a poll cycle) sends alerts only: no digests, no retries.
    Counts: sent/retrying/failed deliveries, items sent, held (still pending afterwards).
    """
    now = now or now_utc()
    local = now.astimezone(ZoneInfo(config.digest.timezone))
    quiet = in_quiet_hours(config.digest.quiet_hours, local)
    due = set() if immediate_only else set(due_channels(config, store.last_scheduled(), now))
    summary: Counter = Counter()
    for ch in config.channels:
        if channels and ch.name not in channels:
            continue
        try:
            await _run_channel(store, config, ch, now=now, digest_due=ch.name in due, quiet=quiet,
                               force=force, retries=not immediate_only, summary=summary)
        except Exception:  # one broken channel must not stop the others
            log.exception("digest run for channel %s failed", ch.name)
            summary["errors"] += 1
    return {k: summary.get(k, 0) for k in ("sent", "items", "retrying", "failed", "held", "errors")}


def preview(store, config: Config, channel: str | None = None, now: datetime | None = None) -> list[Digest]:
    """The digest each channel would get if sent now (ignoring its schedule); writes nothing."""
    now = now or now_utc()
    out = []
    for ch in config.channels:
        if channel and ch.name != channel:
            continue
        picked, more = select_rows(store.pending_items(ch.name), config.digest.max_items)
        if picked or config.digest.send_empty:
            out.append(build_digest(picked, channel=ch.name, created=now, timezone=config.digest.timezone,
                                    more=more, story_sources=_story_sources(store, picked),
                                    feed_alerts=feed_alerts(store, config, now)))
    return out
