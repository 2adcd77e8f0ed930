"""The daemon's delivery jobs (deliver/job.py) on the real JobRunner: an alert leaves within
seconds of the commit that queued it, whoever wrote it, and a slow channel never holds up
another (issue 14 point 2, issue 15 point 4)."""

from __future__ import annotations

import asyncio
import time

from monitor.daemon.jobs import JobRunner
from monitor.deliver.job import WATCH_SECONDS, Deliveries
from tests.receivers import ServiceReceiver


def test_alerts_leave_seconds_after_the_commit_and_a_slow_channel_delays_nobody(delivery_env):
    slow = ServiceReceiver("slack", delay=6)
    fast = ServiceReceiver("json")
    try:
        env = delivery_env(f"  - {{name: slow, type: webhook, format: slack, schedule: immediate, url: '{slow.url}'}}\n"
                           f"  - {{name: fast, type: webhook, schedule: immediate, url: '{fast.url}'}}\n")

        async def scenario() -> tuple[float, float, float]:
            runner = JobRunner()
            deliveries = Deliveries(runner, lambda: env.config)
            runner.every(WATCH_SECONDS, "deliver:watch", deliveries.watch)
            await asyncio.sleep(1.5)                          # the start-up run: nothing pending
            t0 = time.monotonic()
            env.add("First kallas story", channels=("slow", "fast"))      # a commit, nobody calls wake()
            while not fast.accepted and time.monotonic() - t0 < 10:
                await asyncio.sleep(0.05)
            first = time.monotonic() - t0
            t1 = time.monotonic()
            env.add("Second kallas story", channels=("slow", "fast"))     # slow is still busy with the first
            deliveries.wake()                                             # as a feed job does
            while len(fast.accepted) < 2 and time.monotonic() - t1 < 10:
                await asyncio.sleep(0.05)
            second = time.monotonic() - t1
            sent = "SELECT count(*) AS n FROM outbox WHERE channel = 'slow' AND status = 'sent'"
            while env.store.rows(sent)[0]["n"] < 2 and time.monotonic() - t1 < 30:
                await asyncio.sleep(0.1)
            await runner.drain(5)
            return first, second, time.monotonic() - t1

        first, second, slow_done = asyncio.run(scenario())
        assert first < 3, f"the alert took {first:.1f}s"
        assert second < 3, f"the fast channel waited {second:.1f}s for the slow one"
        assert [len(r.accepted) for r in (fast, slow)] == [2, 2]          # the busy channel ran again after
        titles = [i["title"] for q in fast.accepted for i in q.json()["items"]]
        assert titles == ["First kallas story", "Second kallas story"]
    finally:
        slow.close()
        fast.close()
