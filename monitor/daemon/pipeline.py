"""The poll cycle: the one place that wires the stages to the store.

For each due feed: fetch (conditional GET) -> parse -> keep unseen entries -> fetch and
extract their pages (daemon/articles.py) -> canonical URL and story -> match the rules ->
save entries, articles, matches, outbox rows and the feed's new state in one transaction.
Errors are isolated per feed and recorded on the feed (error count, last error, next
attempt). Must not render or send digests (delivery.py reads the outbox), and holds no
state between cycles beyond what `Deps` carries.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from monitor import metrics
from monitor.config.settings import Config
from monitor.daemon import memory, moves
from monitor.daemon.articles import build_until, feed_content_only, parse, unique
from monitor.daemon.decide import analyse_batch, decide
from monitor.daemon.workers import STORY_LOCK_RETRY_SECONDS, save_stories, unleased
from monitor.errors import FeedParseError, FetchError
from monitor.extract import pool
from monitor.ingest import backlog as backlog_mod
from monitor.ingest import polling
from monitor.ingest.fetch import Fetcher, FetchResult
from monitor.models import Article, Entry
from monitor.store import retry
from monitor.store.sqlite import Store, iso, now_utc
from monitor.stories import dedupe

log = logging.getLogger("monitor.daemon.pipeline")


@dataclass
class Deps:
    """What a cycle needs, built once at start and passed down (no globals)."""

    config: Config
    store: Store
    fetcher: Fetcher
    rules: Any                      # monitor.match.RuleWatcher
    extractor: Any = None           # monitor.extract.pool.ExtractorPool, or None to extract inline
    stories: Any = None             # monitor.stories.index.StoryIndex, or None
    analysis: Any = None            # monitor.daemon.analysis.RulesPublisher (with a pool), or None
    synced: Config | None = None    # the config whose feed list the store last took in
    sessions: Any = None            # monitor.daemon.sessions.Sessions: feed jobs' connections, reused
    worker: Any = None              # monitor.daemon.workers.Worker: this process's claims and story catch-up


@dataclass
class FeedOutcome:
    url: str
    status: str                     # ok, not-modified, failed, retired, slow (cut off at its deadline)
    entries: int = 0
    new: int = 0
    articles: int = 0
    matched: int = 0
    queued: int = 0
    error: str = ""
    updated: int = 0
    left: int = 0                   # items cut off at the feed's deadline, left for its next poll
    unmatched: int = 0              # articles stored unmatched: their matching ran past its limit


@dataclass
class CycleSummary:
    feeds: list[FeedOutcome] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        by = {s: sum(1 for f in self.feeds if f.status == s)
              for s in ("ok", "not-modified", "failed", "retired", "slow")}
        return {"feeds": len(self.feeds), **by,
                "new_entries": sum(f.new for f in self.feeds),
                "articles": sum(f.articles for f in self.feeds),
                "matched": sum(f.matched for f in self.feeds),
                "queued": sum(f.queued for f in self.feeds),
                "updated": sum(f.updated for f in self.feeds),
                "left": sum(f.left for f in self.feeds),
                "unmatched": sum(f.unmatched for f in self.feeds),
                "seconds": round(self.seconds, 2)}

    def line(self) -> str:
        d = self.as_dict()
        return (f"poll: {d['feeds']} feeds ({d['ok']} ok, {d['not-modified']} not modified, "
                f"{d['failed']} failed, {d['retired']} retired"
                + (f", {d['slow']} slow with {d['left']} items left" if d["slow"] else "")
                + f"), {d['new_entries']} new entries, "
                f"{d['articles']} articles, {d['matched']} matched, {d['queued']} queued "
                f"in {d['seconds']:.1f}s")


async def poll_cycle(deps: Deps, now: datetime | None = None, every_feed: bool = False,
                     progress: Any = None) -> CycleSummary:
    """Poll every due feed (or every active feed) once, each as its own job; never raises for one feed.

    This is `poll --once`; the daemon starts the same feed jobs one by one as feeds fall due
    (daemon/scheduler.py).
    """
    started = time.monotonic()
    now = now or now_utc()
    if deps.synced is not deps.config:      # at start, and after the daemon reloaded an edited config
        deps.store.sync_feeds([f for f in deps.config.feeds if f.enabled])
        deps.synced = deps.config
    configured = [f.url for f in deps.config.feeds if f.enabled]
    feeds = deps.store.due_feeds(datetime.max.replace(tzinfo=now.tzinfo) if every_feed else now, configured)
    feeds = unleased(deps.store, feeds)      # a feed a running worker is polling now is left to it
    if progress is not None:        # `poll --once` on a terminal: total(n), then advance() per feed done
        progress.total(len(feeds))

    async def job(feed: dict) -> FeedOutcome:
        outcome = await poll_feed_job(deps, feed)
        if progress is not None:
            progress.advance()
        return outcome
    outcomes = await asyncio.gather(*(job(f) for f in feeds))
    summary = CycleSummary(list(outcomes), time.monotonic() - started)
    deps.store.record_cycle("poll", now, summary.as_dict())
    if feeds:
        memory.release_freed_memory()      # what the cycle's burst freed goes back to the system
    return summary


async def poll_feed_job(deps: Deps, feed: dict) -> FeedOutcome:
    """One feed's poll as a job, with its own deadline: the fetch first, then a store connection of its
    own for the rest. (A cycle starts every due feed's job at once and the fetcher's limits queue them:
    a connection taken before the fetch was one open SQLite connection per queued feed, 1,000 at the
    start of a 1,000-feed cycle, each opened anew.)"""
    deadline = time.monotonic() + deps.config.fetch.feed_deadline_seconds
    # its parse, pages and analysis wait for a pool worker by this deadline: the feed that started
    # first is saved first (with all of a burst interleaved, each was saved only at the burst's end)
    with pool.by_deadline(deadline):
        fetched = await _fetch_guarded(deps, feed, deadline)
        with (deps.sessions.job() if deps.sessions is not None else deps.store.session()) as store:
            return await poll_feed(replace(deps, store=store), feed, fetched, deadline)


async def poll_feed(deps: Deps, feed: dict, fetched: FetchResult | Exception | None = None,
                    deadline: float | None = None) -> FeedOutcome:
    """Poll one feed on `deps.store`; `fetched`: its fetch already done (a result, or the error it raised)."""
    outcome = await _poll_feed_guarded(deps, feed, fetched, deadline)
    metrics.feed_polled(outcome.status, outcome.error)
    return outcome


async def _fetch_guarded(deps: Deps, feed: dict, deadline: float) -> FetchResult | Exception:
    try:
        return await _fetch(deps, feed["url"], feed, deadline)
    except asyncio.CancelledError:
        raise
    except Exception as exc:        # recorded on the feed by _poll_feed_guarded, with the store
        return exc


async def _fetch(deps: Deps, url: str, feed: dict, deadline: float) -> FetchResult:
    try:
        async with asyncio.timeout_at(_loop_time(deadline)):
            result = await deps.fetcher.fetch_feed(url, feed["etag"], feed["last_modified"])
            metrics.fetched("feed", result.elapsed)
    except TimeoutError:
        raise FetchError(f"feed not fetched within its deadline of {deps.config.fetch.feed_deadline_seconds:g}s") \
            from None
    return result


async def _poll_feed_guarded(deps: Deps, feed: dict, fetched: FetchResult | Exception | None,
                             deadline: float | None) -> FeedOutcome:
    url = feed["url"]
    try:
        if deadline is None:
            deadline = time.monotonic() + deps.config.fetch.feed_deadline_seconds
        if fetched is None:
            fetched = await _fetch(deps, url, feed, deadline)
        if isinstance(fetched, Exception):
            raise fetched
        return await _poll_feed(deps, feed, fetched, deadline)
    except (FetchError, FeedParseError) as exc:
        return _failed(deps, feed, f"{type(exc).__name__}: {exc}", None)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a bug must not stop the other feeds; it is recorded on the feed
        log.exception("unexpected error polling %s", url)
        return _failed(deps, feed, f"internal error: {type(exc).__name__}: {exc}", None)


async def _poll_feed(deps: Deps, feed: dict, result: FetchResult, deadline: float) -> FeedOutcome:
    url = feed["url"]
    if result.moved_to:
        deps.store.move_feed(url, result.moved_to)
        log.info("feed moved permanently: %s -> %s", url, result.moved_to,
                 extra={"event": "feed_moved", "feed": url, "moved_to": result.moved_to})
        moves.follow_in_config(deps, url, result.moved_to)
        feed = deps.store.feed(result.moved_to) or feed
        url = feed["url"]
    if result.status == 410:
        deps.store.update_feed(url, state="retired", last_status=410, last_poll=iso(now_utc()),
                               last_error="410 Gone: the publisher retired this feed")
        return FeedOutcome(url, "retired", error="410 Gone")
    if result.status >= 400:
        return _failed(deps, feed, f"HTTP {result.status}", result.retry_after, result.status)
    now = now_utc()
    base = {"last_poll": iso(now), "last_success": iso(now), "last_status": result.status,
            "error_count": 0, "last_error": None, "failing_since": None}
    if result.not_modified:
        # unchanged feed: its publishing rate is still that of the entries we know
        known_times = deps.store.entry_times(url)
        base["next_poll"] = iso(_next_poll(deps, feed, now, known_times, None, result))
        deps.store.update_feed(url, slow=None, **base)
        return FeedOutcome(url, "not-modified")
    parsed, keys = await parse(deps, result, url)
    # which entries are new or re-published, and which of their articles' URLs are stored already: one
    # query. The URLs are asked only when the articles are built at once under their keys (feed content
    # only); pages fetched meanwhile may take seconds, and may give other URLs, so those are asked after.
    checked = [keys[e.guid] for e in parsed.entries if e.guid in keys] if keys and feed_content_only(deps, feed) \
        else []
    new, republished, known = deps.store.seen_and_known(url, parsed.entries, checked)
    if new and log.isEnabledFor(logging.DEBUG):     # when the fetch saw new items (bench/alert.py reads it)
        log.debug("feed fetched: %s: %d new of %d entries", url, len(new), len(parsed.entries),
                  extra={"event": "feed_fetched", "feed": url, "new": len(new), "fetched": now.isoformat()})
    backlog: list[Entry] = []
    if backlog_mod.is_first_poll(feed):     # a new feed's old items are recorded as seen, not alerted
        new, backlog = backlog_mod.split_backlog(new, now, deps.config.fetch.first_poll_alert_hours)
        if backlog:
            log.info("first poll of %s: %d older items recorded as seen without alerting", url, len(backlog),
                     extra={"event": "first_poll_backlog", "feed": url, "backlog": len(backlog), "new": len(new)})
    _release_connection(deps)       # no connection held while pages are fetched and extracted
    built, rebuilt, left = await build_until(deps, feed, parsed, new, republished, deadline, keys)
    articles = unique(deps, [a for a in built if a is not None], checked, known)
    _release_connection(deps)       # ... nor while the batch waits for the worker pool
    analyses = await analyse_batch(deps, articles, url)
    times = [t for e in parsed.entries for t in (e.published or e.updated,) if t]
    entries = [e for e in parsed.entries if e.guid not in left]
    base.update(etag=result.etag, last_modified=result.last_modified, slow=None,
                entries_seen=feed["entries_seen"] + len(backlog) + len(new) - sum(1 for e in new if e.guid in left),
                next_poll=iso(_next_poll(deps, feed, now, times, parsed.ttl_minutes, result)))
    if left:
        # the validators stay as they were, so the next poll is not a 304 that hides the rest
        base.update(etag=feed["etag"], last_modified=feed["last_modified"],
                    slow=f"cut off at its {deps.config.fetch.feed_deadline_seconds:g}s deadline with "
                         f"{len(left)} of {len(new) + len(republished)} items left for the next poll")
        log.warning("feed slow: %s: %s", url, base["slow"], extra={"event": "feed_slow", "feed": url,
                                                                    "left": len(left)})
    # From here on nothing awaits but a busy story lock (PostgreSQL: another worker is deciding):
    # the batch is decided against the shared story index and saved as one unit. (Another feed
    # or worker carrying one of these articles may have saved it meanwhile; the store ignores it.)
    items, unmatched, updated = await _decide_and_save(deps, url, entries, articles, analyses, now, base,
                                                       republished, rebuilt)
    metrics.stored(items)
    matched = [m for _, m in items if m]
    queued = sum(len(x.channels) for m in matched for x in m)
    return FeedOutcome(url, "slow" if left else "ok", len(parsed.entries), len(new), len(items), len(matched),
                       queued, updated=updated, left=len(left), unmatched=len(unmatched))


class _StoryLockBusy(Exception):
    """Another worker holds the story lock: the feed's unit of work is rolled back and tried again."""


async def _decide_and_save(deps: Deps, url: str, entries: list[Entry], articles: list[Article], analyses: list,
                           now: datetime, base: dict, republished: list[tuple[Entry, dict]],
                           rebuilt: list[Article | None]) -> tuple[list, dict[str, str], int]:
    """Stories and channels decided against the shared story index, saved in one transaction.

    With new articles, the transaction first takes the story lock (PostgreSQL: held by
    another worker deciding, the empty transaction ends and is retried a few ms later) and
    catches the story index up with what other workers saved (daemon/workers.py). A deadlock
    or serialization failure (PostgreSQL rolled the unit back) runs it again from the start
    (store/retry.py), after the story cache dropped what the failed attempt decided."""
    worker = deps.worker

    async def attempt() -> tuple[list, dict[str, str], int, int]:
        queued: list = []

        def queue_articles(guard: str) -> None:
            queued.append(deps.store.queue_articles(articles, guard))
        while True:
            queued.clear()
            try:
                with deps.store.transaction(flat=True):     # nested units join it: no savepoint round trips
                    # the story lock and what other workers saved since; False: it is busy. The articles'
                    # insert goes out with it (PostgreSQL: one round trip for both, not two; what they
                    # insert does not depend on the decisions), guarded by the lock: nothing without it
                    if worker is None or not articles or worker.begin_stories(deps.store, deps.stories,
                                                                              then=queue_articles):
                        items, assignments, unmatched = decide(deps, articles, analyses, now)
                        # SQLite inserts the articles only now, each row with its story (written once)
                        stories = {s.article_key: s for s in assignments}
                        ids = queued[0](stories) if queued else None
                        deps.store.save_feed_items(url, entries, [(a, m, ()) for a, m in items], base, ids=ids)
                        last = save_stories(worker, deps.store, assignments,
                                            deps.store.story_rows(articles, ids, stories) if ids else ())
                        deps.store.mark_unmatched(unmatched)
                        updated = _apply_updates(deps, republished, rebuilt)
                        if worker is None or not articles:
                            await deps.store.commit_async()     # PostgreSQL: its round trip waited for off the loop
                        # else the unit holds the story lock, which every other feed's save waits for: it
                        # commits at its end, on the loop (about 1.5 ms of the server's; waited for in a
                        # thread it held the lock 7-8 ms, most of it the thread's hand-off back)
                        return items, unmatched, updated, last
                    raise _StoryLockBusy    # (the lock freed between the two asks: what got in is rolled back)
            except _StoryLockBusy:
                pass
            await asyncio.sleep(STORY_LOCK_RETRY_SECONDS)     # another worker is deciding stories

    def forget_decisions() -> None:
        # the index is a cache of the database's: what the rolled-back attempt assigned is not there
        reset = getattr(deps.stories, "reset", None)
        if articles and reset is not None:
            reset()

    async def saved() -> tuple[list, dict[str, str], int, int]:
        return await retry.run_async(attempt, what=f"saving {url}", before_retry=forget_decisions)
    if worker is not None and articles:
        # this process's feeds wait their turn here, without a statement, and only the one whose
        # turn it is asks the database for the story lock: with 2-4 workers a feed otherwise tried
        # it about 7 times (3 round trips each) before getting it (bench/roundtrips.py)
        async with worker.story_turn():
            items, unmatched, updated, last = await saved()
    else:
        items, unmatched, updated, last = await saved()
    if worker is not None:
        worker.story_seq = max(worker.story_seq, last)
    return items, unmatched, updated


def _release_connection(deps: Deps) -> None:
    """A feed job's store (daemon/sessions.py `JobStore`) gives its connection back before an await."""
    release = getattr(type(deps.store), "release_connection", None)
    if release is not None:
        release(deps.store)


def _loop_time(deadline: float) -> float:
    """A time.monotonic() deadline on the running loop's clock."""
    return asyncio.get_running_loop().time() + (deadline - time.monotonic())


def _apply_updates(deps: Deps, republished: list[tuple[Entry, dict]], rebuilt: list[Article | None]) -> int:
    """Entries re-published under their GUID: alert again only when the text changed materially."""
    n = 0
    for (_, stored), fresh in zip(republished, rebuilt):
        if fresh is None or not dedupe.is_material_update(stored["text"], fresh.text,
                                                          deps.config.dedupe.update_threshold):
            continue
        deps.store.mark_article_updated(stored["url"], fresh.text, dedupe.text_fingerprint(fresh.title, fresh.text))
        n += 1
    return n


def _next_poll(deps: Deps, feed: dict, now: datetime, times: list[datetime], ttl: int | None,
               result: FetchResult) -> datetime:
    return polling.next_poll_after_success(now, times, deps.config.fetch, feed["interval_minutes"],
                                           ttl, result.max_age)


def _failed(deps: Deps, feed: dict, error: str, retry_after: float | None, status: int | None = None) -> FeedOutcome:
    now = now_utc()
    count = (feed.get("error_count") or 0) + 1
    nxt = polling.next_poll_after_failure(now, count, retry_after, deps.config.fetch)
    deps.store.update_feed(feed["url"], error_count=count, last_error=error, last_status=status,
                           last_poll=iso(now), failing_since=feed.get("failing_since") or iso(now),
                           next_poll=iso(nxt))
    log.warning("feed failed (%d in a row, next attempt %s): %s: %s", count, iso(nxt), feed["url"], error,
                extra={"event": "feed_failed", "feed": feed["url"], "error": error, "failures": count,
                       "next_attempt": iso(nxt), "status": status})
    return FeedOutcome(feed["url"], "failed", error=error)
