"""Matching and the story signature of a feed's new articles, in the worker pool, one limit per article.

Owns the CPU-heavy per-entry work of a poll: parsing a feed with its entries' keys
(canonical URLs, `parse_and_key`, one call per feed), `RuleSet.match` and `text_signature` (the
MinHash and, when the related level is on, the event terms: the main process only looks
them up in the story index), sent
a feed's batch at a time (`ExtractorPool.map_batch`) with `fetch.match_seconds_per_article`
applied to each article inside the batch, so a hostile article costs that article only.
An article past its limit comes back as `Analysis(timed_out=True)`: the pipeline stores
it unmatched and reports it, and never tries it again. Also owns getting the rule set to
the workers: each new `RuleSet` is written once (in a thread, off the event loop) to a
private file named by its version: the whole set, or, when it was reloaded from the one
published before, only its changed files (a delta: at 100,000 rules the whole set takes
seconds to pickle and as long to unpickle in each worker, one edited file milliseconds). A
worker reads the chain of files from the last whole set to the current version, applies
what it has not applied yet (RuleSet's incremental update, as the main process made it),
and keeps the result. Must not touch the store or decide channels (pipeline.py does).
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.models import Article, Match, ParsedFeed
from monitor.stories.dedupe import item_url
from monitor.stories.index import TextSignature, text_signature


@dataclass(frozen=True)
class Analysis:
    """One article's matches and story signature, or why there are none."""

    matches: tuple[Match, ...] = ()
    signature: TextSignature | None = None
    timed_out: bool = False
    error: str = ""


def parse_and_key(body: bytes, url: str, content_type: str, max_entries: int,
                  feed_url: str) -> tuple[ParsedFeed, dict[str, str]]:
    """In a worker: the parsed feed and each entry's article key (its canonical URL, held to
    the feed's site: `dedupe.item_url` without a page), by GUID."""
    from monitor.ingest.feeds import parse_feed  # feedparser: in the workers, not the main process
    parsed = parse_feed(body, url, content_type, max_entries)
    return parsed, {e.guid: item_url(e.url or e.guid, feed_url) for e in parsed.entries}


def analyse(article: Article, state: tuple[Any, int, bool]) -> Analysis:
    """In a worker (or in-process without a pool): the rules that fire, and the text's signature.

    `state` is (rule set, MinHash permutations, whether to compute the related level's event terms).
    """
    rules, num_perm, related = state
    matches = tuple(rules.match(article)) if rules is not None else ()
    return Analysis(matches, text_signature(article.title, article.text, num_perm, related))


MAX_DELTAS = 8      # deltas a chain holds before the next version is written whole again


def rules_delta(base: Any, new: Any) -> dict[str, Any] | None:
    """What turns RuleSet `base` into `new`: new's files in order, each with its rules where
    they are not base's very objects (None: base's, unchanged), and new's entities, files and
    warnings; None when either set has no per-file segments (it was not loaded from files)."""
    from monitor.match import same_rules
    old, now = getattr(base, "_segments", None), getattr(new, "_segments", None)
    if old is None or now is None:
        return None
    segments = []
    for path, (found, _) in now.items():
        was = old.get(path)
        segments.append((path, None if was is not None and same_rules(was[0], found) else found))
    return {"segments": segments, "entities": new.entities, "files": new.files, "warnings": new.warnings}


def apply_delta(base: Any, delta: dict[str, Any]) -> Any:
    """The RuleSet `delta` describes, updated from `base` (its index copied, the changed files'
    rules removed and added: RuleSet's incremental path), matching as the published set does."""
    from monitor.match import RuleSet, gc_paused
    kept = base._segments
    segments = [(path, kept[path][0] if found is None else found) for path, found in delta["segments"]]
    rules = tuple(rule for _, found in segments for rule in found)
    with gc_paused():
        return RuleSet(rules, delta["entities"], delta["files"], delta["warnings"], segments=segments,
                       previous=base)


# -- in the worker: the rule set by version ---------------------------------------------
_loaded: tuple[tuple[str, ...], Any] | None = None     # (the chain applied, its rule set)


def load_state(context: tuple[tuple[str, ...] | None, int, bool]) -> tuple[Any, int, bool]:
    """The worker's setup for a batch: the published rule set (each version applied once)."""
    global _loaded
    chain, num_perm, related = context
    if chain is None:
        return None, num_perm, related
    if _loaded is None or _loaded[0] != chain:
        have = _loaded[0] if _loaded is not None else ()
        if have and chain[:len(have)] == have:
            rules, todo = _loaded[1], chain[len(have):]   # type: ignore[index]
        else:
            with open(chain[0], "rb") as f:
                rules, todo = pickle.load(f), chain[1:]
        for path in todo:
            with open(path, "rb") as f:
                rules = apply_delta(rules, pickle.load(f))
        _loaded = (chain, rules)
    return _loaded[1], num_perm, related


# -- in the daemon: publishing rule sets --------------------------------------------------
class RulesPublisher:
    """Writes each new RuleSet once to a private folder, whole or as a delta of the one before;
    `context_for(rules)` names the chain of files for workers."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="monitor-rules-"))
        self._lock = threading.Lock()
        self._current: tuple[Any, tuple[str, ...]] | None = None      # (RuleSet, chain) published last
        self._version = 0

    def published(self, rules: Any) -> tuple[str, ...] | None:
        """The chain of this very RuleSet if it is the one published, else None."""
        current = self._current
        return current[1] if current is not None and current[0] is rules else None

    def publish(self, rules: Any) -> tuple[str, ...]:
        """Write the rule set (blocking: call it in a thread) and make it the current one."""
        with self._lock:
            known = self.published(rules)
            if known is not None:
                return known
            self._version += 1
            previous = self._current
            delta = (rules_delta(previous[0], rules)
                     if previous is not None and len(previous[1]) <= MAX_DELTAS else None)
            path = self.dir / f"rules-{self._version}.{'whole' if delta is None else 'delta'}"
            tmp = path.with_suffix(".tmp")
            with open(tmp, "wb") as f:
                pickle.dump(rules if delta is None else delta, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
            chain = (str(path),) if delta is None else (*previous[1], str(path))   # type: ignore[index]
            self._current = (rules, chain)
            # a worker may still be reading the previous chain for a batch decided before the
            # swap: its files stay until the next version; the folder is removed at close
            keep = {*chain, *(previous[1] if previous is not None else ())}
            for old in self.dir.glob("rules-*"):
                if str(old) not in keep and old.suffix != ".tmp":
                    old.unlink(missing_ok=True)
        return chain

    async def context_for(self, rules: Any, num_perm: int,
                          related: bool = True) -> tuple[tuple[str, ...] | None, int, bool]:
        """What a batch sends its worker for this rule set (publishing it first, off the loop)."""
        if rules is None:
            return None, num_perm, related
        chain = self.published(rules)
        if chain is None:
            # a daemon thread, not asyncio.to_thread: a pickling still going at shutdown
            # (seconds for 20,000 rules) must not hold the process's exit
            from monitor.daemon.jobs import in_daemon_thread
            chain = await in_daemon_thread(self.publish, rules)
        return chain, num_perm, related

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
