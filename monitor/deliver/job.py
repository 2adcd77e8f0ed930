"""The daemon's delivery job: deliveries in tasks of their own, beside (never inside) the polls.

Owns when to run a channel: at once when woken (`wake()`, called after a poll commits new
outbox rows), within a second of a new unclaimed outbox row or a retry falling due (cheap
queries on the job's own store connection, so an alert goes out seconds after the commit
that queued it whoever wrote it), and every minute for schedules. Each channel runs in its
own task: a channel waiting for a Retry-After, pacing a long digest or talking to a slow
receiver never delays another channel, nor polling. Must not decide what to send (delivery.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from monitor.config.settings import Config
from monitor.deliver.delivery import run_digests
from monitor.store.sqlite import Store, now_utc

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0          # how often the job looks for new outbox rows and due retries
SCHEDULE_SECONDS = 60.0     # how often every channel is run for its schedule


class DeliveryJob:
    def __init__(self, config: Callable[[], Config], store: Store | None = None):
        self.config = config
        self.store = store or Store(config().state_path)
        self.own_store = store is None
        self.woken = asyncio.Event()
        self.tasks: dict[str, asyncio.Task] = {}
        self.again: set[str] = set()
        self.marks: dict[str, int] = {}
        self.last_full = 0.0

    def wake(self) -> None:
        """New items were queued: run every channel now."""
        self.woken.set()

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                self._start(self._channels_with_work())
            except Exception:  # a store hiccup must not end the job
                log.exception("delivery job: looking for work failed; trying again")
            try:
                await asyncio.wait_for(self.woken.wait(), TICK_SECONDS)
            except TimeoutError:
                pass

    def _channels_with_work(self) -> set[str]:
        names = {ch.name for ch in self.config().channels}
        full = self.woken.is_set() or time.monotonic() - self.last_full >= SCHEDULE_SECONDS
        self.woken.clear()
        marks = self.store.outbox_marks()
        fresh = {ch for ch, n in marks.items() if n > self.marks.get(ch, 0)}
        self.marks = marks
        if full:
            self.last_full = time.monotonic()
            return names
        return names & (fresh | self.store.channels_with_due_retries(now_utc()))

    def _start(self, names: set[str]) -> None:
        for name in names:
            task = self.tasks.get(name)
            if task is not None and not task.done():
                self.again.add(name)          # it is busy: run it once more when it is done
                continue
            self.tasks[name] = asyncio.create_task(self._channel(name), name=f"deliver:{name}")

    async def _channel(self, name: str) -> None:
        while True:
            self.again.discard(name)
            try:
                result = await run_digests(self.store, self.config(), channels=[name])
                if result.get("sent") or result.get("failed") or result.get("retrying"):
                    log.info("delivery %s: %s", name, ", ".join(f"{k} {v}" for k, v in result.items()))
            except Exception:
                log.exception("delivery for channel %s failed; the daemon keeps running", name)
            if name not in self.again:
                return

    async def close(self, grace: float) -> None:
        """Give running deliveries `grace` seconds, then cancel them (their parts are saved)."""
        running = [t for t in self.tasks.values() if not t.done()]
        if running:
            _, late = await asyncio.wait(running, timeout=grace)
            for t in late:
                t.cancel()
            if late:
                await asyncio.wait(late, timeout=5)
        if self.own_store:
            self.store.close()
