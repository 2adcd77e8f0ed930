"""The delivery run: outbox -> delivery -> parts -> send -> mark, with retries and pacing.

A delivery is written to the store (claiming its outbox rows) before it is attempted. At its
first attempt the channel decides its messages (`prepare`: the parts, each within the
service's limits, with their idempotency keys) and they are saved; every later attempt
re-sends the saved parts that were not yet accepted, never re-rendered ones. A part's rows
are marked sent when that part was accepted; the delivery when all were. A failed attempt
is retried with exponential backoff, or after the service's Retry-After, until
`retry_for_hours`, then marked failed. While a channel has a delivery waiting for its retry,
new items wait in the outbox (at most one pending delivery per channel). Channels run side
by side, each paced on its own (pacing.py), so one failing or slow channel never delays
another. The schedule rules are in schedule.py. Must not render (digest.py, formats/) nor
speak a channel's protocol (channels/).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from monitor import metrics
from monitor.config.settings import ChannelSettings, Config
from monitor.deliver.channels import Channel, make_channel
from monitor.deliver.digest import Digest, FeedAlert, build_digest, select_rows
from monitor.deliver.pacing import messages_per_second, pacer
from monitor.deliver.parts import Prepared, plain_digest
from monitor.deliver.schedule import due_channels, in_quiet_hours, next_retry, plan
from monitor.errors import DeliveryError
from monitor.store.sqlite import now_utc

log = logging.getLogger(__name__)

INLINE_WAIT_MAX = 30.0    # a Retry-After up to this many seconds is waited out in the channel's task
INLINE_WAITS = 3          # ... at most this many times per part and attempt


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


def _failed(store, config: Config, delivery: dict, now: datetime, exc: BaseException, summary: Counter) -> None:
    error = str(exc) if isinstance(exc, DeliveryError) else f"{type(exc).__name__}: {exc}"
    retry_at = next_retry(datetime.fromisoformat(delivery["created"]), delivery["attempts"], now,
                          timedelta(hours=config.digest.retry_for_hours))
    wait = getattr(exc, "retry_after", None)
    if retry_at is not None and wait is not None:      # the service said when: that, not our backoff
        deadline = datetime.fromisoformat(delivery["created"]) + timedelta(hours=config.digest.retry_for_hours)
        retry_at = min(now + timedelta(seconds=max(wait, 1.0)), deadline)
    store.mark_delivery_failed(delivery["id"], error, retry_at)
    summary["failed" if retry_at is None else "retrying"] += 1
    metrics.delivered(delivery["channel"], "failed" if retry_at is None else "retrying")
    log.warning("delivery %s to %s failed (%s): %s", delivery["id"], delivery["channel"],
                "giving up" if retry_at is None else f"retry at {retry_at:%H:%M:%S}", error,
                extra={"event": "delivery_failed", "delivery_id": delivery["id"], "channel": delivery["channel"],
                       "error": error, "attempts": delivery["attempts"] + 1, "retry_at": retry_at})


async def _parts(store, config: Config, channel: Channel, delivery: dict, now: datetime) -> list[dict]:
    """The saved parts of a delivery; at its first attempt, decide them and save them first.

    Laying out a big digest is CPU work: it runs in a thread, off the event loop. If it fails
    on some publisher text, the digest is laid out again in plain form: one bad item must
    never fail a delivery."""
    parts = store.delivery_parts(delivery["id"])
    if parts:
        return parts
    digest = _digest_for(store, config, delivery, now)
    try:
        prepared = await asyncio.to_thread(channel.prepare, digest, delivery["id"])
    except DeliveryError:
        raise
    except Exception:
        log.exception("delivery %s: laying out the digest failed; sending it in plain form", delivery["id"])
        prepared = await asyncio.to_thread(channel.prepare, plain_digest(digest), delivery["id"])
    loose = store.save_delivery_parts(delivery["id"], prepared)
    if loose:
        log.error("delivery %s: %d outbox rows were in no part; they wait for the next delivery",
                  delivery["id"], loose)
    return store.delivery_parts(delivery["id"])


async def _attempt(store, config: Config, ch: ChannelSettings, channel: Channel, delivery: dict,
                   now: datetime, summary: Counter) -> bool:
    """Send the unsent parts of one persisted delivery, in order; True when every part was accepted."""
    pace, gate = messages_per_second(ch), pacer(ch.name)
    try:
        parts = await _parts(store, config, channel, delivery, now)
        for part in parts:
            if part["status"] == "sent":
                continue
            message = Prepared(tuple(part["outbox_ids"]), part["payload"], part["key"], part["label"],
                               part["items"])
            for waited in range(INLINE_WAITS + 1):
                await gate.wait(pace)
                try:
                    await channel.deliver(message, delivery["id"])
                    break
                except DeliveryError as exc:
                    if exc.retry_after is None or exc.retry_after > INLINE_WAIT_MAX or waited == INLINE_WAITS:
                        raise                   # a longer wait is kept as the delivery's next attempt
                    gate.hold(exc.retry_after)
                    log.info("delivery %s to %s: %s; waiting as asked", delivery["id"], ch.name, exc)
            store.mark_part_sent(delivery["id"], part["part"], now_utc())
            summary["items"] += part["items"]
    except Exception as exc:  # a channel bug must not lose the delivery either: retry it the same way
        _failed(store, config, delivery, now, exc, summary)
        return False
    store.mark_delivered(delivery["id"])
    metrics.delivered(delivery["channel"], "sent")
    log.info("delivery %s to %s sent (%d parts)", delivery["id"], ch.name, len(parts),
             extra={"event": "delivery_sent", "delivery_id": delivery["id"], "channel": ch.name,
                    "parts": len(parts), "kind": delivery.get("kind")})
    summary["sent"] += 1
    return True


def _hold_follow_ups(store, config: Config, channel: str, rows: list[dict], now: datetime) -> list[dict]:
    """Related coverage of a story already alerted on this channel for the same rule (within
    the story window) waits for the next scheduled digest: `digest_only` rows are never alerts."""
    since = now - timedelta(hours=config.dedupe.story_window_hours)
    for r in rows:
        if r.get("story_level") == "related" and r.get("story_id") \
                and store.story_alerted(r["story_id"], r["rule"], channel, since):
            r["digest_only"] = True
    return rows


async def _retry_waiting(store, config: Config, ch: ChannelSettings, channel: Channel, *, now: datetime,
                         force: bool, retries: bool, summary: Counter) -> bool:
    """Retry the channel's due deliveries (every waiting one when forced); True when none is left.

    While one is left (the channel is failing, or another run is sending) new items wait in
    the outbox rather than pile up deliveries; they go in the next one once this one succeeds
    or gives up."""
    if retries:
        for d in (store.pending_deliveries(ch.name) if force else store.due_deliveries(now, ch.name)):
            if not await _attempt(store, config, ch, channel, d, now, summary):
                break
    return not store.pending_deliveries(ch.name)


async def _run_channel(store, config: Config, ch: ChannelSettings, *, now: datetime, digest_due: bool,
                       first: bool, quiet: bool, force: bool, retries: bool, summary: Counter) -> None:
    channel = make_channel(ch, config)
    if not await _retry_waiting(store, config, ch, channel, now=now, force=force, retries=retries,
                                summary=summary):
        summary["held"] += len(store.pending_items(ch.name))
        return
    store.settle_duplicates(ch.name)
    if first and ch.schedule == "immediate":
        # An immediate channel's hourly slot only flushes what the alert limit held back: its
        # first items go as alerts, and the hourly flush counts from now.
        store.set_last_scheduled(ch.name, now)
        digest_due = first = False
    s = config.digest
    while True:
        rows = _hold_follow_ups(store, config, ch.name, store.pending_items(ch.name), now)
        counts = store.alert_counts(ch.name, now - timedelta(hours=1))
        p = plan(ch.schedule, rows, digest_due=digest_due or force, quiet=quiet, alert_counts=counts,
                 per_rule_per_hour=s.immediate_per_rule_per_hour)
        if p is None:
            break
        picked, more = select_rows(p.rows, s.max_items)
        if p.kind == "digest":
            if not picked and first:
                break       # the first digest waits for the first run that finds something pending
            store.set_last_scheduled(ch.name, now)
            # An immediate channel's hourly flush is not a newsletter: never send it empty.
            if not picked and (not s.send_empty or ch.schedule == "immediate"):
                break
        delivery_id = store.create_delivery(ch.name, [r["outbox_id"] for r in picked], kind=p.kind,
                                            more=more if p.kind == "digest" else 0, now=now)
        if delivery_id is None:         # a concurrent run claimed these rows first and sends them
            break
        sent = await _attempt(store, config, ch, channel, store.delivery(delivery_id), now, summary)
        # Only a forced send drains everything now; otherwise the rest waits for the next digest.
        if not (force and sent and more):
            break
    summary["held"] += len(store.pending_items(ch.name))


async def run_digests(store, config: Config, now: datetime | None = None, *, force: bool = False,
                      channels: list[str] | None = None, immediate_only: bool = False) -> dict[str, Any]:
    """Send what is due on every channel (or those named), the channels side by side; returns counts.

    `force` sends everything pending now regardless of schedules and quiet hours, and retries
    waiting deliveries at once; `immediate_only` sends alerts only: no digests, no retries.
    Counts: sent/retrying/failed deliveries, items sent, held (still pending afterwards).
    """
    now = now or now_utc()
    local = now.astimezone(ZoneInfo(config.digest.timezone))
    quiet = in_quiet_hours(config.digest.quiet_hours, local)
    last = store.last_scheduled()
    due = set() if immediate_only else set(due_channels(config, last, now))
    summary: Counter = Counter()

    async def one(ch: ChannelSettings) -> None:
        try:
            await _run_channel(store, config, ch, now=now, digest_due=ch.name in due, first=ch.name not in last,
                               quiet=quiet, force=force, retries=not immediate_only, summary=summary)
        except Exception:  # one broken channel must not stop the others
            log.exception("digest run for channel %s failed", ch.name)
            summary["errors"] += 1

    await asyncio.gather(*(one(ch) for ch in config.channels if not channels or ch.name in channels))
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
