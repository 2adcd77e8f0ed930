"""Pacing per channel: at most `messages_per_second` messages, and no message before the time a
service named in its Retry-After. One `Pacer` per channel name, per process.

Owns the waiting only (monotonic clock, asyncio.sleep), so one channel's wait never holds up
another channel's task. Must not send or touch the store.
"""

from __future__ import annotations

import asyncio
import time

from monitor.config.settings import ChannelSettings

CHAT_FORMATS = ("slack", "discord", "teams", "teams-legacy", "mattermost")
CHAT_DEFAULT_PER_SECOND = 1.0


def messages_per_second(ch: ChannelSettings) -> float:
    """The channel's pace: `messages_per_second` if set; 1 for chat webhooks; else unpaced (0)."""
    value = ch.options.get("messages_per_second")
    if value is not None:
        return float(value)
    if ch.type == "webhook" and str(ch.options.get("format", "json")) in CHAT_FORMATS:
        return CHAT_DEFAULT_PER_SECOND
    return 0.0


class Pacer:
    def __init__(self) -> None:
        self.next_free = 0.0           # monotonic time the next message may go

    async def wait(self, per_second: float) -> None:
        delay = self.next_free - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        self.next_free = time.monotonic() + (1.0 / per_second if per_second > 0 else 0.0)

    def hold(self, seconds: float) -> None:
        """The service asked for a pause (Retry-After): nothing goes before it ends."""
        self.next_free = max(self.next_free, time.monotonic() + seconds)


_PACERS: dict[str, Pacer] = {}


def pacer(channel: str) -> Pacer:
    return _PACERS.setdefault(channel, Pacer())
