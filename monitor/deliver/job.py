"""The daemon's deliveries: one job per channel, beside (never inside) the polls.

Owns when a channel runs: at once when woken (`wake()`, called when a feed's poll queued
something), within a second of a new unclaimed outbox row or a retry falling due (`watch`,
a cheap look on a short-lived connection, so an alert goes out seconds after the commit
that queued it whoever wrote it), and on every minute for schedules (`schedule`, which
the daemon puts on a cron trigger). Each channel is its own
job `deliver:<name>` in the daemon's JobRunner, on its own store connection: a channel
waiting for a Retry-After, pacing a long digest or talking to a slow receiver never delays
another channel, nor polling; a channel woken while its job runs goes once more after it.
With several workers on one database, a channel's run is claimed too: it goes where the
lease `deliver:<channel>` is taken (store/leases.py), so exactly one worker sends a given
delivery; a worker that dies mid-send leaves its lease to run out, and the next holder
re-sends the saved, unconfirmed parts with the same idempotency keys.
Must not decide what to send (delivery.py) nor own the runner (daemon/jobs.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from monitor.config.settings import Config
from monitor.deliver.delivery import run_digests
from monitor.store.open import open_store
from monitor.store.sqlite import now_utc

log = logging.getLogger(__name__)

WATCH_SECONDS = 1.0         # how often to look for new outbox rows and due retries


class Deliveries:
    def __init__(self, runner: Any, config: Callable[[], Config], worker: Any = None):
        self.runner = runner              # daemon/jobs.JobRunner: start(name, fn), is_running(name)
        self.config = config
        self.worker = worker              # daemon/workers.Worker: the channel's lease; None runs unclaimed
        self.again: set[str] = set()
        self.marks: dict[str, int] = {}

    def wake(self, names: set[str] | None = None) -> None:
        """Run these channels (default: all) now, each in its own job."""
        for name in names if names is not None else {ch.name for ch in self.config().channels}:
            started = self.runner.start(f"deliver:{name}", lambda name=name: self._channel(name))
            if started is None and self.runner.is_running(f"deliver:{name}"):
                self.again.add(name)          # busy: once more when it is done

    async def schedule(self) -> None:
        """On the minute: every channel runs for its schedule (digest times, quiet hours ending)."""
        self.wake()

    async def watch(self) -> None:
        """The periodic look: new outbox rows and due retries."""
        store = open_store(self.config(), migrate=False)
        try:
            marks = store.outbox_marks()
            due = store.channels_with_due_retries(now_utc())
        finally:
            store.close()
        fresh = {ch for ch, n in marks.items() if n > self.marks.get(ch, 0)}
        self.marks = marks
        if fresh or due:
            self.wake((fresh | due) & {ch.name for ch in self.config().channels})

    async def _channel(self, name: str) -> None:
        while True:
            self.again.discard(name)
            store = open_store(self.config(), migrate=False)
            lease = f"deliver:{name}"
            try:
                if self.worker is not None and not self.worker.lease(store, lease):
                    return              # another worker is running this channel; it looks again after
                try:
                    store.hold_muted()      # muted stories and snoozed rules (web interface) stay unsent
                    result = await run_digests(store, self.config(), channels=[name])
                finally:
                    if self.worker is not None:
                        self.worker.release(store, lease)
            finally:
                store.close()
            if result.get("sent") or result.get("failed") or result.get("retrying"):
                log.info("delivery %s: %s", name, ", ".join(f"{k} {v}" for k, v in result.items()))
            if name not in self.again or self.runner.stopping.is_set():
                return
