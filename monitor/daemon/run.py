"""`monitor run`: the long-running service around the pipeline.

Owns which jobs the daemon has and when they run, all through the one job runner
(daemon/jobs.py) and its APScheduler timer: a poll job per due feed (daemon/scheduler.py,
a date trigger at the next due time), deliveries (a job per channel, deliver/job.py: at
once when a feed queued something, within a second of any new outbox row or due retry,
on every minute for schedules, a cron trigger), the rules and
config reloads (compiled in a thread, swapped in on the loop) and housekeeping
(retention, then incremental vacuum, in a thread on its own connections). Also signal handling and graceful
shutdown: on SIGTERM/SIGINT no new job starts, running jobs get `shutdown_grace_seconds`
to finish and are then cancelled. Cancelling is safe because every feed is saved in its
own transaction and deliveries are marked only after their channel confirms. With several
workers on one PostgreSQL database (docs/scaling.md), this process is one `Worker`
(daemon/workers.py): it registers, beats every `workers.heartbeat_seconds` (extending its
leases), runs housekeeping and channel notices only where it holds their lease, and gives
its leases back on a clean stop. Must not hold business logic.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import replace

from monitor.config import settings as config_mod
from monitor.config.crossref import missing_env, rule_channel_errors
from monitor.config.settings import Config
from monitor.daemon import looplag, notices, pipeline
from monitor.daemon.deps import open_deps, pool_preload, report_rules, rule_check, story_horizon
from monitor.daemon.jobs import JobRunner
from monitor.daemon.lock import StateLock
from monitor.daemon.scheduler import FeedScheduler
from monitor.daemon.startup import StartupError, preflight
from monitor.daemon.workers import Worker
from monitor.deliver.channels import file as file_channel
from monitor.deliver.job import WATCH_SECONDS, Deliveries
from monitor.errors import ConfigError
from monitor.store import vacuum
from monitor.store.open import open_store, state_label
from monitor.store.sqlite import now_utc

__all__ = ["Daemon", "open_deps", "pool_preload", "prune_state", "report_rules", "rule_check", "run",
           "story_horizon"]

log = logging.getLogger("monitor.daemon.run")

RULES_CHECK_SECONDS = 5
CONFIG_CHECK_SECONDS = 10
HOUSEKEEPING_HOURS = 6
VACUUM_HINT_PAGES = 25_000     # ~100 MB free inside a non-incremental database: worth `monitor vacuum`
NOTICES_CHECK_SECONDS = 60


class Daemon:
    """The daemon's jobs on one event loop, all started through one JobRunner."""

    def __init__(self, deps: pipeline.Deps):
        self.deps = deps
        self.runner = JobRunner()
        self.scheduler = FeedScheduler(deps, self.runner, on_feed_done=self._feed_done)
        self.config_stamp: int | None = None
        self.deliveries = Deliveries(self.runner, lambda: self.deps.config, worker=self.scheduler.worker)

    @property
    def stopping(self) -> asyncio.Event:
        return self.runner.stopping

    # -- deliveries ------------------------------------------------------------------
    def _feed_done(self, outcome: pipeline.FeedOutcome) -> None:
        if outcome.queued:
            self.deliveries.wake()      # alerts (and a first digest) now, one job per channel

    async def channel_notices(self) -> None:
        """A channel failing too long is told through the others (daemon/notices.py); one worker does it."""
        with self.deps.store.session() as store:
            async with self.worker.singleton(store, "notices") as mine:
                if mine and notices.queue_channel_notices(store, self.deps.config, now_utc()):
                    self.deliveries.wake()

    # -- this worker -------------------------------------------------------------------
    @property
    def worker(self) -> Worker:
        return self.scheduler.worker

    async def heartbeat(self) -> None:
        """Alive: the workers row's heartbeat, and every lease this worker holds extended."""
        with self.deps.store.session() as store:
            self.worker.beat(store)

    # -- reloads -----------------------------------------------------------------------
    async def reload_config(self) -> None:
        """Pick up an edited config file (feeds added or removed, channels, schedules).

        Read and validated in a thread, swapped in on the loop in one assignment. An
        invalid edit is logged and the running config kept, as with rules. The state path
        is not changed while running.
        """
        path = self.deps.config.path
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            return
        if self.config_stamp is None:
            self.config_stamp = stamp
            return
        if stamp == self.config_stamp:
            return
        self.config_stamp = stamp
        try:
            fresh = await self.runner.in_thread(config_mod.load, path)
        except ConfigError as exc:
            for msg in exc.messages:
                log.error("config: %s (keeping the running config)", msg)
            return
        problems = missing_env(fresh)
        if self.deps.rules.current is not None:
            problems += rule_channel_errors(self.deps.rules.current.rules, fresh)
        if problems:
            for msg in problems:
                log.error("config: %s (keeping the running config)", msg)
            return
        if fresh.state_path != self.deps.config.state_path or fresh.postgres != self.deps.config.postgres:
            log.warning("config: the state (state.path / state.url) changed; restart monitor to use %s",
                        state_label(fresh))
            fresh = replace(fresh, state_path=self.deps.config.state_path, postgres=self.deps.config.postgres)
        self.deps.config = fresh
        self.deps.rules.check = rule_check(fresh)
        self.deps.rules.recheck()
        self.scheduler.poke()
        log.info("config reloaded: %d feeds, %d channels", len(fresh.feeds), len(fresh.channels))

    async def reload_rules(self) -> None:
        """Re-read edited rule files in a thread (a big rule set takes seconds to compile);
        the watcher swaps the new set in with one reference assignment."""
        if await self.runner.in_thread(self._refresh_rules):
            log.info("rules reloaded: %d rules", len(self.deps.rules.current.rules))
        report_rules(self.deps)

    def _refresh_rules(self) -> bool:
        """In a thread: re-read, compile, and publish a new set to the workers before it is used."""
        watcher, publisher = self.deps.rules, self.deps.analysis
        fresh = watcher.refresh()
        if fresh and publisher is not None and watcher.current is not None:
            publisher.publish(watcher.current)
        return fresh

    # -- housekeeping ------------------------------------------------------------------
    async def housekeeping(self) -> None:
        """Retention, then (state.vacuum) the freed space back to the file system; in a thread,
        by the one worker holding the housekeeping lease."""
        stop = self.runner.stop_flag.is_set
        with self.deps.store.session() as store:
            async with self.worker.singleton(store, "housekeeping") as mine:
                if not mine:
                    return
                self._log_pruned(*await self.runner.in_thread(prune_state, self.deps.config, stop))
                sqlite = getattr(self.deps.store, "dialect", "sqlite") == "sqlite"    # PostgreSQL: autovacuum
                if self.deps.config.state_vacuum and sqlite and not stop():
                    report = await self.runner.in_thread(vacuum.incremental, self.deps.config.state_path, stop)
                    if report.mode == "none" and report.free_pages > VACUUM_HINT_PAGES:
                        log.warning(report.line())
                    elif report.freed_pages:
                        log.info(report.line())

    def prune(self) -> None:
        """Retention right here (tests, bench); the daemon runs it as the housekeeping job."""
        self._log_pruned(*prune_state(self.deps.config))

    def _log_pruned(self, removed: int, files: int) -> None:
        if removed or files:
            log.info("retention: pruned %d articles and %d digest files older than %d days",
                     removed, files, self.deps.config.retention_days)

    # -- running -----------------------------------------------------------------------
    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.runner.stop)
        cfg = self.deps.config
        http = None
        if cfg.http_listen:      # first: a refused web configuration or a port in use stops the start
            from monitor.web import server as web
            try:
                # "retry now" on a page wakes the delivery jobs instead of sending from the web thread
                http = web.start(cfg, wake=lambda: loop.call_soon_threadsafe(self.deliveries.wake))
            except ConfigError as exc:
                raise StartupError(exc.messages) from None
            log.info("web interface on http://%s (also /healthz, /metrics)", cfg.http_listen)
        runner = self.runner
        runner.start("looplag", lambda: looplag.probe(runner.stopping))   # measures the loop's lag
        self.worker.start(self.deps.store)
        runner.every(self.deps.config.workers.heartbeat_seconds, "heartbeat", self.heartbeat,
                     first=self.deps.config.workers.heartbeat_seconds)
        report_rules(self.deps)
        runner.every(WATCH_SECONDS, "deliver:watch", self.deliveries.watch)
        # on the minute for schedules; at start too: a delivery claimed before a crash is resumed at once
        runner.cron("deliver:schedule", self.deliveries.schedule, second=0, now=True)
        runner.every(NOTICES_CHECK_SECONDS, "notices", self.channel_notices, first=NOTICES_CHECK_SECONDS)
        runner.every(RULES_CHECK_SECONDS, "rules", self.reload_rules, first=RULES_CHECK_SECONDS)
        await self.reload_config()
        runner.every(CONFIG_CHECK_SECONDS, "config", self.reload_config, first=CONFIG_CHECK_SECONDS)
        runner.every(HOUSEKEEPING_HOURS * 3600, "housekeeping", self.housekeeping)
        if self.deps.extractor is not None:
            await self.deps.extractor.start()      # workers up before the first poll needs them
        self.scheduler.start()
        log.info("monitor running: %d feeds, %d channels, state %s", len(cfg.feeds), len(cfg.channels),
                 state_label(cfg))
        await self.stopping.wait()
        grace = self.deps.config.shutdown_grace_seconds
        log.info("shutting down: waiting up to %.0fs for %d running job(s): %s", grace, len(runner.running),
                 ", ".join(sorted(runner.running)) or "none")
        began = time.monotonic()
        cancelled = await runner.drain(grace)
        log.info("jobs drained in %.1fs (%d cancelled)", time.monotonic() - began, cancelled)
        try:
            self.worker.stop(self.deps.store)      # leases back now, not when they run out
        except Exception:
            log.exception("giving back the leases failed; they run out in %gs",
                          self.deps.config.workers.lease_seconds)
        if http is not None:
            await asyncio.to_thread(http.stop)
        log.info("stopped cleanly")


def prune_state(config: Config, stop: Callable[[], bool] = lambda: False) -> tuple[int, int]:
    """Retention, on a connection of its own (run in a thread): story signatures past the
    story window, then articles, deliveries and digest files past retention_days."""
    store = open_store(config, migrate=False)
    try:
        store.prune_story_signatures(story_horizon(config, store))
        if stop() or config.retention_days is None:      # retention_days: forever
            return 0, 0
        removed = store.prune(config.retention_days)
    finally:
        store.close()
    files = 0 if stop() else sum(file_channel.prune(d, config.retention_days) for d in file_channel.directories(config))
    return removed, files


async def run(config: Config, worker_id: str | None = None) -> None:
    """The daemon until SIGTERM/SIGINT; StartupError or AlreadyRunning before anything starts."""
    preflight(config)
    # SQLite: one daemon per state (a lock file). PostgreSQL: workers are many by design (leases).
    with StateLock(config.state_path) if config.postgres is None else nullcontext():
        async with open_deps(config, worker_id=worker_id) as deps:
            await Daemon(deps).run()
