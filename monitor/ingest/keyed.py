"""Per-key asyncio limits (a semaphore per host, a lock per feed URL) that are forgotten when idle.

Owns one thing: a key's primitive exists only while someone holds or waits for it, so a
daemon whose article links reach ever new hosts does not keep one semaphore per host it
ever saw. Must not know what the keys mean.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager


class KeyedLimits:
    """`async with limits.hold(key):` enters the key's own primitive (made by `factory`)."""

    def __init__(self, factory: Callable[[], asyncio.Semaphore | asyncio.Lock]):
        self._factory = factory
        self._entries: dict[str, tuple[asyncio.Semaphore | asyncio.Lock, list[int]]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        prim, users = self._entries.setdefault(key, (self._factory(), [0]))
        users[0] += 1                  # counted before waiting: a waiter keeps the primitive alive
        try:
            async with prim:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._entries[key]
