"""The daemon's per-process dependencies: store, HTTP client, rules, worker pool, story index.

Owns building them once (`open_deps`, also used by `poll --once`, the demo, tests and
benches) and closing them, what the pool's forkserver preloads, the check a rule set must
pass against the config, where the story window starts, and writing the rules' state for
`monitor status`. Moved out of daemon/run.py, which re-exports these names. Must not
schedule jobs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path

from monitor.config.crossref import rule_channel_errors
from monitor.config.settings import Config
from monitor.daemon import pipeline
from monitor.daemon.analysis import RulesPublisher
from monitor.daemon.sessions import Sessions
from monitor.daemon.storyload import OnDemandIndex
from monitor.daemon.workers import Worker
from monitor.extract.pool import BASE_PRELOAD, FULL_PRELOAD, ExtractorPool
from monitor.ingest.fetch import Fetcher
from monitor.store import storyindex
from monitor.store.open import open_store
from monitor.store.sqlite import Store, now_utc
from monitor.stories.index import StoryIndex

log = logging.getLogger("monitor.daemon.run")


@asynccontextmanager
async def open_deps(config: Config, rules_dir: Path | None = None,
                    use_pool: bool = True, worker_id: str | None = None,
                    prestart: bool = True) -> AsyncIterator[pipeline.Deps]:
    """Build the per-process dependencies once: store, HTTP client, rules, extractor pool, stories.

    `prestart`: start the pool's workers now (the daemon); without it (`poll --once`) they start
    with the first feed that has something to parse, while the other fetches are in flight,
    so a cycle of 304s never starts them."""
    from monitor.match import RuleWatcher

    store = open_store(config)
    rules = RuleWatcher(rules_dir or config.rules_path, check=rule_check(config),
                        max_alias_values=config.rules_max_alias_values, settle_seconds=1.0)
    extractor = ExtractorPool(workers=config.fetch.extract_workers or None,
                              preload=pool_preload(config)) if use_pool else None
    publisher = RulesPublisher() if use_pool else None
    worker = Worker(worker_id, config.workers, backend=str(store.dialect))
    # the workers start (forkserver, imports) while the rules are published and the first fetches wait
    starting = asyncio.ensure_future(extractor.start()) if extractor is not None and prestart else None
    # feed jobs hand their SQLite connection on (daemon/sessions.py); other backends open their own
    sessions = Sessions(store) if str(store.dialect) == "sqlite" else None
    try:
        if publisher is not None and rules.current is not None:
            await asyncio.to_thread(publisher.publish, rules.current)
        worker.story_seq = storyindex.max_seq(store)      # rows saved later are caught up
        stories = _story_index(config, store, worker)
        async with Fetcher(config.fetch) as fetcher:
            yield pipeline.Deps(config=config, store=store, fetcher=fetcher, rules=rules,
                                extractor=extractor, stories=stories, analysis=publisher, worker=worker,
                                sessions=sessions)
    finally:
        if sessions is not None:
            sessions.close()
        if starting is not None:    # workers half-started must be known to the pool to be stopped
            await asyncio.gather(starting, return_exceptions=True)
        if extractor is not None:
            extractor.close()
        if publisher is not None:
            publisher.close()
        store.close()


def pool_preload(config: Config) -> tuple[str, ...]:
    """What the workers' forkserver imports: trafilatura only when some feed extracts pages."""
    full_text = config.fetch.full_text and any(f.full_text for f in config.feeds if f.enabled)
    return FULL_PRELOAD if full_text else BASE_PRELOAD


def rule_check(config: Config):
    """The check a rule set must pass against this config: it routes only to defined channels."""
    return lambda ruleset: rule_channel_errors(ruleset.rules, config)


def _story_index(config: Config, store: Store, worker: Worker | None = None) -> OnDemandIndex:
    """The story index over the dedupe window, rebuilt from the stored signatures on first use."""
    def fresh() -> StoryIndex:
        return StoryIndex(threshold=config.dedupe.story_threshold, window_hours=config.dedupe.story_window_hours,
                          date_skew_minutes=config.dedupe.date_skew_minutes,
                          related_threshold=config.dedupe.related_threshold)
    index = fresh()

    def load(ix: StoryIndex) -> int:
        if worker is not None:      # rows saved after the load are caught up (daemon/workers.py)
            worker.story_seq = max(worker.story_seq, storyindex.max_seq(store))
        return ix.load(store.story_signatures(since=story_horizon(config, store)), now=now_utc())
    return OnDemandIndex(index, load, fresh)


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
