"""Matching and the story signature of a feed's new articles, in the worker pool, one limit per article.

Owns the CPU-heavy per-entry work of a poll: parsing a feed with its entries' keys
(canonical URLs, `parse_and_key`, one call per feed), `RuleSet.match` and `text_signature` (the
MinHash and, when the related level is on, the event terms: the main process only looks
them up in the story index), sent
a feed's batch at a time (`ExtractorPool.map_batch`) with `fetch.match_seconds_per_article`
applied to each article inside the batch, so a hostile article costs that article only.
An article past its limit comes back as `Analysis(timed_out=True)`: the pipeline stores
it unmatched and reports it, and never tries it again. Also owns getting the rule set to
the workers: each new `RuleSet` is pickled once (in a thread, off the event loop) to a
private file named by its version; a worker loads a version once and keeps it.
Must not touch the store or decide channels (pipeline.py does).
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


# -- in the worker: the rule set by version ---------------------------------------------
_loaded: tuple[str, Any] | None = None


def load_state(context: tuple[str | None, int, bool]) -> tuple[Any, int, bool]:
    """The worker's setup for a batch: the published rule set (loaded once per version)."""
    global _loaded
    path, num_perm, related = context
    if path is None:
        return None, num_perm, related
    if _loaded is None or _loaded[0] != path:
        with open(path, "rb") as f:
            _loaded = (path, pickle.load(f))
    return _loaded[1], num_perm, related


# -- in the daemon: publishing rule sets --------------------------------------------------
class RulesPublisher:
    """Pickles each new RuleSet once to a private folder; `context_for(rules)` names it for workers."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="monitor-rules-"))
        self._lock = threading.Lock()
        self._current: tuple[Any, str] | None = None      # (RuleSet, file) published last
        self._version = 0

    def published(self, rules: Any) -> str | None:
        """The file of this very RuleSet if it is the one published, else None."""
        current = self._current
        return current[1] if current is not None and current[0] is rules else None

    def publish(self, rules: Any) -> str:
        """Write the rule set (blocking: call it in a thread) and make it the current one."""
        with self._lock:
            known = self.published(rules)
            if known is not None:
                return known
            self._version += 1
            path = self.dir / f"rules-{self._version}.pickle"
            tmp = path.with_suffix(".tmp")
            with open(tmp, "wb") as f:
                pickle.dump(rules, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
            previous, self._current = self._current, (rules, str(path))
        if previous is not None:
            # a worker may still be loading it for a batch decided before the swap; the
            # folder is removed at close, older files when two versions back
            stale = self.dir / f"rules-{self._version - 2}.pickle"
            stale.unlink(missing_ok=True)
        return str(path)

    async def context_for(self, rules: Any, num_perm: int, related: bool = True) -> tuple[str | None, int, bool]:
        """What a batch sends its worker for this rule set (publishing it first, off the loop)."""
        if rules is None:
            return None, num_perm, related
        path = self.published(rules)
        if path is None:
            # a daemon thread, not asyncio.to_thread: a pickling still going at shutdown
            # (seconds for 20,000 rules) must not hold the process's exit
            from monitor.daemon.jobs import in_daemon_thread
            path = await in_daemon_thread(self.publish, rules)
        return path, num_perm, related

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
