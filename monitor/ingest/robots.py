"""robots.txt for article pages: fetched once per origin, cached, asked with our User-Agent.

Owns the cache and the rule "missing, erroring or unreadable robots.txt means allowed"
(a feed's publisher has already invited us to its items; robots.txt may narrow that).
Must not open connections itself: it is given an async `fetch(url) -> (status, body)`,
which is fetch.py's client, so the address guard, caps and limits apply to it too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from monitor.errors import FetchError

CACHE_SECONDS = 3600.0


def parse_robots(text: str) -> RobotFileParser:
    rp = RobotFileParser()
    rp.parse(text.splitlines())
    return rp


class RobotsCache:
    def __init__(self, fetch: Callable[[str], Awaitable[tuple[int, bytes]]], user_agent: str,
                 ttl: float = CACHE_SECONDS):
        self._fetch = fetch
        self._agent = user_agent
        self._ttl = ttl
        self._rules: dict[str, tuple[float, RobotFileParser | None]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        lock = self._locks.setdefault(origin, asyncio.Lock())
        async with lock:     # one robots.txt request per origin, however many pages wait
            hit = self._rules.get(origin)
            if hit is None or hit[0] < time.monotonic():
                hit = (time.monotonic() + self._ttl, await self._load(origin))
                self._rules[origin] = hit
        rules = hit[1]
        return True if rules is None else rules.can_fetch(self._agent, url)

    async def _load(self, origin: str) -> RobotFileParser | None:
        try:
            status, body = await self._fetch(origin + "/robots.txt")
        except FetchError:
            return None
        if status != 200:
            return None
        return parse_robots(body.decode("utf-8", "replace"))
