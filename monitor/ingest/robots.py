"""robots.txt for article pages: fetched once per origin, cached, asked with our User-Agent.

Owns the cache and the rule "missing, erroring or unreadable robots.txt means allowed"
(a feed's publisher has already invited us to its items; robots.txt may narrow that).
Must not open connections itself: it is given an async `fetch(url) -> (status, body)`,
which is fetch.py's client, so the address guard, caps and limits apply to it too.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from monitor.errors import FetchError

CACHE_SECONDS = 3600.0
CACHE_ORIGINS = 1000        # default of fetch.robots_cache_size: origins kept, least recently used evicted


def parse_robots(text: str) -> RobotFileParser:
    rp = RobotFileParser()
    rp.parse(text.splitlines())
    return rp


class RobotsCache:
    """robots.txt rules per origin: at most `max_origins` kept, each for `ttl` seconds.

    Article links reach ever new origins over a daemon's life, so the cache is a bounded
    LRU: the least recently asked origin goes first (and is fetched again if asked again).
    """

    def __init__(self, fetch: Callable[[str], Awaitable[tuple[int, bytes]]], user_agent: str,
                 ttl: float = CACHE_SECONDS, max_origins: int = CACHE_ORIGINS):
        self._fetch = fetch
        self._agent = user_agent
        self._ttl = ttl
        self.max_origins = max(1, max_origins)
        self._rules: OrderedDict[str, tuple[float, RobotFileParser | None]] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}

    def __len__(self) -> int:
        return len(self._rules)

    async def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        lock = self._locks.setdefault(origin, asyncio.Lock())
        async with lock:     # one robots.txt request per origin, however many pages wait
            hit = self._rules.get(origin)
            if hit is None or hit[0] < time.monotonic():
                hit = (time.monotonic() + self._ttl, await self._load(origin))
                self._rules[origin] = hit
            self._rules.move_to_end(origin)
            self._evict()
        rules = hit[1]
        return True if rules is None else rules.can_fetch(self._agent, url)

    def _evict(self) -> None:
        while len(self._rules) > self.max_origins:
            old, _ = self._rules.popitem(last=False)
            lock = self._locks.get(old)
            if lock is not None and not lock.locked():
                del self._locks[old]
        if len(self._locks) > 2 * self.max_origins:      # locks of origins whose fetch failed midway
            for origin in [o for o, lk in self._locks.items() if o not in self._rules and not lk.locked()]:
                del self._locks[origin]

    async def _load(self, origin: str) -> RobotFileParser | None:
        try:
            status, body = await self._fetch(origin + "/robots.txt")
        except FetchError:
            return None
        if status != 200:
            return None
        return parse_robots(body.decode("utf-8", "replace"))
