"""The story index of a process, rebuilt from the stored signatures when it is first needed.

Owns when the index (monitor.stories.index.StoryIndex) is loaded: not at start but on the
first call that needs its content, so a cycle in which no feed has a new article (every
feed a 304, the common case of `poll --once` run from cron) never pays for reading and
indexing the window's signatures (measured: a quarter of a warm 1,000-feed run's CPU).
Also owns `reset`: after a save that was rolled back (a deadlock retried, store/retry.py)
the index is dropped and rebuilt from the store on next use, so it never holds a decision
the database does not. Must not decide stories itself; the StoryIndex does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("monitor.daemon.storyload")


class OnDemandIndex:
    """Stands for a StoryIndex: `num_perm` at once, anything else loads it first (once)."""

    def __init__(self, index: Any, load: Callable[[Any], int], fresh: Callable[[], Any] | None = None):
        self._index = index
        self._load: Callable[[Any], int] | None = load
        self._loader = load
        self._fresh = fresh
        self.num_perm = index.num_perm

    def reset(self) -> None:
        """Forget everything held and load from the store again on the next use: after a rolled-back
        save, the decisions of that attempt must not stay in the cache (the database is the truth)."""
        if self._fresh is None:
            raise RuntimeError("this index cannot be rebuilt (no factory given)")
        self._index = self._fresh()
        self._load = self._loader

    @property
    def loaded(self) -> bool:
        return self._load is None

    def index(self) -> Any:
        """The StoryIndex, loaded (from the store, on the calling thread) if it was not yet."""
        load, self._load = self._load, None
        if load is not None:
            started = time.monotonic()
            n = load(self._index)
            log.debug("story index: %d signatures loaded in %.2fs", n, time.monotonic() - started)
        return self._index

    def __getattr__(self, name: str) -> Any:
        return getattr(self.index(), name)

    def __len__(self) -> int:
        return len(self.index())

    def __contains__(self, key: object) -> bool:
        return key in self.index()
