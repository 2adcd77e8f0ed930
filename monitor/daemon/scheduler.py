"""The continuous feed scheduler: a feed falls due, its poll starts as a job, and finishes on its own.

Owns when a feed's poll job starts: each feed whose next poll time has come and that is
not already being polled gets a job of its own at once (the fetcher's global and
per-host limits decide when its requests go out), so a new due feed never waits for a
slow one. Also owns the word "cycle" in the daemon: the feeds that fell due within one
minute form a cycle, recorded (`cycles` table, the log's summary line, the heartbeat)
when the last of them has finished; a feed falling due after that starts the next one.
An idle check records an empty cycle, as `poll --once` with nothing due does.
Due feeds are claimed, not only read: `daemon/workers.Worker.claim` leases them (and their
hosts) in the store, so several workers on one PostgreSQL database never poll a feed twice,
and the one SQLite daemon runs the same code. The check itself is the job `feeds:check`, on
a date trigger of the runner's timer (APScheduler) set for when the next feed is due (at
most `MAX_SLEEP_SECONDS` ahead); `poke()` (a poll ended, the config changed) moves it to now.
Must not poll a feed itself (pipeline.poll_feed does).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor import metrics
from monitor.daemon import pipeline
from monitor.daemon.jobs import Job, JobRunner
from monitor.daemon.memory import release_freed_memory
from monitor.daemon.workers import Worker
from monitor.store.sqlite import now_utc, parse_iso

log = logging.getLogger("monitor.daemon.scheduler")

CYCLE_SECONDS = 60.0
# however far the next due feed is, look again this often (feeds added, clock jumps)
MAX_SLEEP_SECONDS = 5.0


@dataclass
class Cycle:
    """The feeds that fell due within one minute, and how their polls went."""

    started: datetime
    opened: float = field(default_factory=time.monotonic)
    outcomes: list[pipeline.FeedOutcome] = field(default_factory=list)
    running: int = 0
    recorded: bool = False


class FeedScheduler:
    """Starts a poll job per due feed; see the module docstring."""

    def __init__(self, deps: pipeline.Deps, runner: JobRunner,
                 on_feed_done: Callable[[pipeline.FeedOutcome], None] | None = None,
                 worker: Worker | None = None):
        self.deps = deps
        self.worker = worker or deps.worker or Worker()
        deps.worker = self.worker
        self.runner = runner
        self.on_feed_done = on_feed_done
        self.cycle: Cycle | None = None
        self._poked = False
        self._last_record = float("-inf")

    def _open_cycle(self) -> Cycle:
        c = self.cycle
        if c is None or c.recorded or time.monotonic() - c.opened >= CYCLE_SECONDS:
            c = self.cycle = Cycle(now_utc())
        return c

    def check(self) -> float:
        """Start a job for every due feed not being polled; seconds until the next one is due."""
        deps = self.deps
        if deps.synced is not deps.config:       # at start, and after the daemon reloaded the config
            deps.store.sync_feeds([f for f in deps.config.feeds if f.enabled])
            deps.synced = deps.config
        now = now_utc()
        configured = [f.url for f in deps.config.feeds if f.enabled]
        cycle = self._open_cycle()
        for feed in self.worker.claim(deps.store, now, configured, deps.config.fetch):
            name = f"feed:{feed['url']}"
            task = None if self.runner.is_running(name) else self.runner.start(
                name, self._poll_job(feed, cycle), kind="feed", deadline=deps.config.fetch.feed_deadline_seconds + 30,
                on_done=self._finished(cycle, feed["url"]))
            if task is not None:
                cycle.running += 1
            else:
                self.worker.forget(deps.store, feed["url"])
        idle_for = time.monotonic() - self._last_record
        if cycle.running == 0 and not cycle.recorded and idle_for >= deps.config.fetch.check_interval_seconds:
            self._record(cycle)           # nothing was due: an empty cycle, once per check interval
        again = self.worker.claim_again_in()
        if again < float("inf"):
            # the claim was put off: nothing can be claimed sooner, so the next due time (a round
            # trip per finished poll in a cold cycle) is not asked for
            return again
        return self._seconds_to_next_due(now)

    def _poll_job(self, feed: dict, cycle: Cycle):
        async def job() -> None:
            outcome = await pipeline.poll_feed_job(self.deps, feed)
            cycle.outcomes.append(outcome)
            if self.on_feed_done is not None:
                self.on_feed_done(outcome)
        return job

    def _finished(self, cycle: Cycle, url: str) -> Callable[[Job, BaseException | None], None]:
        def done(job: Job, error: BaseException | None) -> None:
            if error is not None and not isinstance(error, asyncio.CancelledError):
                cycle.outcomes.append(pipeline.FeedOutcome(url, "failed", error=f"job: {type(error).__name__}"))
            cycle.running -= 1
            self.worker.done(self.deps.store, url)      # after its save: the lease goes back
            if cycle.running == 0 and not self.runner.stopping.is_set():
                self._record(cycle)
            self.poke()       # its next poll time changed
        return done

    def _record(self, cycle: Cycle) -> None:
        cycle.recorded = True
        self._last_record = time.monotonic()
        summary = pipeline.CycleSummary(cycle.outcomes, time.monotonic() - cycle.opened)
        store = self.deps.store
        store.record_cycle("poll", cycle.started, summary.as_dict())
        metrics.cycle(summary.seconds, len(summary.feeds))
        store.set_meta("heartbeat", {"pid": os.getpid(), "at": now_utc().isoformat()})
        if summary.feeds:
            log.info(summary.line(), extra={"event": "poll_cycle", "counts": summary.as_dict()})
            release_freed_memory()      # what the cycle's burst freed goes back to the system

    def _seconds_to_next_due(self, now: datetime) -> float:
        row = self.deps.store.db.execute(
            "SELECT min(next_poll) FROM feeds WHERE state = 'active' AND next_poll > ?",
            [now.isoformat(timespec="seconds")]).fetchone()
        nxt = parse_iso(row[0]) if row and row[0] else None
        limit = min(MAX_SLEEP_SECONDS, float(self.deps.config.fetch.check_interval_seconds))
        if nxt is None:
            return limit
        return max(0.2, min(limit, (nxt - now + timedelta(milliseconds=50)).total_seconds()))

    def start(self) -> None:
        """The first check now; each check sets the timer for the next."""
        self.poke()

    def poke(self) -> None:
        """Check now (a poll ended, the config changed), whatever the timer said."""
        self._poked = True
        self.runner.at(0, "feeds:check", self._tick)

    async def _tick(self) -> None:
        """The `feeds:check` job: start what is due, set the timer for the next due feed."""
        self._poked = False
        try:
            delay = self.check()
        except Exception:
            log.exception("feed scheduler check failed; retrying")
            delay = MAX_SLEEP_SECONDS
        if not self.runner.stopping.is_set():
            self.runner.at(0 if self._poked else delay, "feeds:check", self._tick)
