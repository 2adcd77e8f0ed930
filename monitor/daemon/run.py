"""`monitor run`: the long-running service around the pipeline.

Owns the APScheduler jobs (poll due feeds, deliver digests, reload rules, prune old
state), signal handling and graceful shutdown: on SIGTERM/SIGINT no new job starts,
in-flight work gets a grace period to finish and is then cancelled. Cancelling is safe
because every feed is saved in its own transaction and deliveries are marked only
after their channel confirms. Must not hold business logic.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.config import settings as config_mod
from monitor.config.settings import Config
from monitor.daemon import pipeline
from monitor.deliver.channels import file as file_channel
from monitor.errors import ConfigError
from monitor.extract.pool import ExtractorPool
from monitor.ingest.fetch import Fetcher
from monitor.store.sqlite import Store, now_utc
from monitor.stories.index import StoryIndex

log = logging.getLogger("monitor.daemon.run")

SHUTDOWN_GRACE_SECONDS = 20.0


@asynccontextmanager
async def open_deps(config: Config, rules_dir: Path | None = None,
                    use_pool: bool = True) -> AsyncIterator[pipeline.Deps]:
    """Build the per-process dependencies once: store, HTTP client, rules, extractor pool, stories."""
    from monitor.match import RuleWatcher

    store = Store(config.state_path)
    rules = RuleWatcher(rules_dir or config.rules_path, config.rules_max_alias_values)
    rules.refresh()
    extractor = ExtractorPool(workers=config.fetch.extract_workers or None) if use_pool else None
    try:
        async with Fetcher(config.fetch) as fetcher:
            yield pipeline.Deps(config=config, store=store, fetcher=fetcher, rules=rules,
                                extractor=extractor, stories=_story_index(config, store))
    finally:
        if extractor is not None:
            extractor.close()
        store.close()


def _story_index(config: Config, store: Store) -> StoryIndex:
    """The story index over the dedupe window, rebuilt from the stored signatures."""
    index = StoryIndex(threshold=config.dedupe.story_threshold, window_hours=config.dedupe.story_window_hours)
    index.load(store.story_signatures(since=story_horizon(config, store)))
    return index


def story_horizon(config: Config, store: Store) -> datetime:
    """Where the story window starts: a window before the latest stored publication time (as
    StoryIndex evicts), never after now. Reloading and pruning by this, not by the wall clock,
    lets a restart rebuild the index the previous process had, also for articles dated days ago."""
    latest = store.latest_story_published()
    now = now_utc()
    return (min(latest, now) if latest else now) - timedelta(hours=config.dedupe.story_window_hours)


def report_rules(deps: pipeline.Deps) -> None:
    """Write the rules' state where `monitor status` can read it, and log errors once per change."""
    watcher = deps.rules
    current = watcher.current
    state = {"loaded": len(current.rules) if current else 0, "errors": list(watcher.errors)}
    previous = deps.store.get_meta("rules")
    if previous is None or previous[0] != state:
        for msg in watcher.errors:
            log.error("rules: %s (keeping the last valid rule set)", msg)
        deps.store.set_meta("rules", state)


class Daemon:
    """Schedules the jobs on one event loop and drains them on shutdown."""

    def __init__(self, deps: pipeline.Deps):
        self.deps = deps
        self.stopping = asyncio.Event()
        self.in_flight: set[asyncio.Task] = set()
        self.config_stamp: int | None = None

    async def _tracked(self, coro) -> None:
        if self.stopping.is_set():
            coro.close()
            return
        task = asyncio.current_task()
        assert task is not None    # jobs always run as tasks on the daemon's loop
        self.in_flight.add(task)
        try:
            await coro
        except asyncio.CancelledError:
            log.warning("job cancelled at shutdown; its unsaved work will be redone next start")
            raise
        except Exception:
            log.exception("job failed; the daemon keeps running")
        finally:
            self.in_flight.discard(task)

    async def poll(self) -> None:
        await self._tracked(self._poll())

    async def _poll(self) -> None:
        self.reload_rules()
        summary = await pipeline.poll_cycle(self.deps)
        if summary.feeds:
            log.info(summary.line())
        self.deps.store.set_meta("heartbeat", {"pid": os.getpid(), "at": now_utc().isoformat()})
        await self._deliver(immediate_only=True)

    async def digest(self) -> None:
        await self._tracked(self._deliver(immediate_only=False))

    async def _deliver(self, immediate_only: bool) -> None:
        from monitor.deliver.delivery import run_digests
        result = await run_digests(self.deps.store, self.deps.config, immediate_only=immediate_only)
        if result.get("sent") or result.get("failed"):
            log.info("digest: %s", ", ".join(f"{k} {v}" for k, v in result.items()))

    def reload_config(self) -> None:
        """Pick up an edited config file (feeds added or removed, channels, schedules).

        An invalid edit is logged and the running config kept, as with rules. The state
        path is not changed while running.
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
            fresh = config_mod.load(path)
        except ConfigError as exc:
            for msg in exc.messages:
                log.error("config: %s (keeping the running config)", msg)
            return
        if fresh.state_path != self.deps.config.state_path:
            log.warning("config: state.path changed; restart monitor to use %s", fresh.state_path)
            fresh = replace(fresh, state_path=self.deps.config.state_path)
        self.deps.config = fresh
        log.info("config reloaded: %d feeds, %d channels", len(fresh.feeds), len(fresh.channels))

    def reload_rules(self) -> None:
        if self.deps.rules.refresh():
            log.info("rules reloaded: %d rules", len(self.deps.rules.current.rules))
        report_rules(self.deps)

    def prune(self) -> None:
        cfg = self.deps.config
        self.deps.store.prune_story_signatures(story_horizon(cfg, self.deps.store))
        removed = self.deps.store.prune(cfg.retention_days)
        files = sum(file_channel.prune(d, cfg.retention_days) for d in file_channel.directories(cfg))
        if removed or files:
            log.info("retention: pruned %d articles and %d digest files older than %d days",
                     removed, files, cfg.retention_days)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        cfg = self.deps.config
        scheduler = AsyncIOScheduler(timezone="UTC")
        common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 30}
        scheduler.add_job(self.poll, "interval", seconds=cfg.fetch.check_interval_seconds,
                          next_run_time=now_utc(), id="poll", **common)
        # At start too: a delivery claimed before a crash is resumed at once, not a minute later.
        scheduler.add_job(self.digest, "interval", seconds=60, next_run_time=now_utc(), id="digest", **common)
        scheduler.add_job(self.reload_rules, "interval", seconds=5, id="rules", **common)
        self.reload_config()
        scheduler.add_job(self.reload_config, "interval", seconds=10, id="config", **common)
        scheduler.add_job(self.prune, "interval", hours=6, next_run_time=now_utc(), id="prune", **common)
        scheduler.start()
        http = None
        if cfg.http_listen:
            from monitor.web import ops as web
            http = web.serve(cfg.http_listen, cfg.state_path, max(300.0, 5.0 * cfg.fetch.check_interval_seconds))
            log.info("operations endpoint on http://%s (/healthz, /metrics)", cfg.http_listen)
        log.info("monitor running: %d feeds, %d channels, state %s", len(cfg.feeds), len(cfg.channels),
                 cfg.state_path)
        await self.stopping.wait()
        log.info("shutting down: waiting up to %.0fs for %d running job(s)", SHUTDOWN_GRACE_SECONDS,
                 len(self.in_flight))
        scheduler.shutdown(wait=False)
        await self.drain()
        if http is not None:
            http.shutdown()
        log.info("stopped cleanly")

    async def drain(self) -> None:
        pending = set(self.in_flight)
        if pending:
            _, still = await asyncio.wait(pending, timeout=SHUTDOWN_GRACE_SECONDS)
            for task in still:
                task.cancel()
            if still:
                await asyncio.wait(still, timeout=5)


async def run(config: Config) -> None:
    async with open_deps(config) as deps:
        await Daemon(deps).run()
