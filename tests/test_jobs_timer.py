"""The job runner's timer (APScheduler 3, AsyncIOScheduler on the daemon's loop): interval,
cron and date triggers start jobs through the runner; a failing job or trigger is logged and
never stops the timer; a blocked loop gets one coalesced run; nothing of APScheduler (no
trigger, no executor thread) outlives `drain`."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from monitor.daemon.jobs import TIMER_DEFAULTS, JobRunner


def test_triggers_start_jobs_through_the_runner_and_failures_never_stop_the_timer(caplog):
    caplog.set_level(logging.INFO, logger="monitor.daemon.jobs")

    async def main() -> dict:
        runner = JobRunner()
        ticks: list[str] = []

        async def tick() -> None:
            ticks.append("tick")

        async def broken() -> None:
            ticks.append("broken")
            raise RuntimeError("a bug in a periodic job")

        async def once() -> None:
            ticks.append("once")

        runner.every(0.2, "tick", tick)
        runner.every(0.2, "broken", broken)
        runner.at(0.3, "once", once)
        runner.at(0.1, "once", once)          # replaces the first: one run, at 0.1 s
        ids = sorted(job.id for job in runner.timer().get_jobs())
        await asyncio.sleep(1.1)
        await runner.drain(1)
        return {"ids": ids, "ticks": ticks, "failures": runner.failures}

    out = asyncio.run(main())
    assert out["ids"] == ["broken", "once", "tick"]
    assert out["ticks"].count("once") == 1
    assert out["ticks"].count("tick") >= 4 and out["ticks"].count("broken") >= 4   # failing did not stop it
    assert out["failures"] == out["ticks"].count("broken")
    assert "job broken failed; the daemon keeps running" in caplog.text
    assert "a bug in a periodic job" in caplog.text


def test_the_timer_logs_a_failing_trigger_and_keeps_firing_the_others(caplog):
    async def main() -> dict:
        runner = JobRunner()
        ran: list[str] = []

        async def fine() -> None:
            ran.append("fine")

        async def raw() -> None:               # a trigger function of its own, outside the runner
            raise ValueError("trigger bug")

        real_start = runner.start

        def flaky_start(name, fn, **kw):
            if name == "flaky":
                raise RuntimeError("start broke")
            return real_start(name, fn, **kw)

        runner.start = flaky_start             # type: ignore[method-assign]
        runner.every(0.2, "fine", fine)
        runner.every(0.2, "flaky", fine)
        runner.timer().add_job(raw, "interval", seconds=0.2, id="raw", misfire_grace_time=None)
        await asyncio.sleep(0.9)
        await runner.drain(1)
        return {"ran": ran, "failures": runner.failures}

    out = asyncio.run(main())
    assert len(out["ran"]) >= 3
    assert "starting job flaky failed; the timer keeps running" in caplog.text
    assert "trigger raw failed; the timer keeps running" in caplog.text and "trigger bug" in caplog.text
    assert out["failures"] >= 4


def test_a_blocked_loop_gets_one_coalesced_run_not_a_burst():
    assert TIMER_DEFAULTS["coalesce"] is True and TIMER_DEFAULTS["max_instances"] == 1

    async def main() -> tuple[int, int]:
        runner = JobRunner()
        runs: list[float] = []

        async def tick() -> None:
            runs.append(time.monotonic())

        runner.every(1.0, "tick", tick)         # runs at 0, 1, 2, ... s
        await asyncio.sleep(0.5)
        before = len(runs)
        time.sleep(3.0)                         # the loop is blocked over three runs, until 3.5 s
        await asyncio.sleep(0.2)                # the next regular run is at 4 s
        after_block = len(runs)
        await runner.drain(1)
        return before, after_block

    before, after_block = asyncio.run(main())
    assert before == 1
    assert after_block - before == 1            # three missed runs became one


def test_a_date_trigger_on_a_running_job_runs_it_again_after_and_wakes_are_never_lost():
    async def main() -> list[str]:
        runner = JobRunner()
        log: list[str] = []

        async def slow() -> None:
            log.append("start")
            await asyncio.sleep(0.3)
            log.append("end")

        runner.at(0, "check", slow)
        await asyncio.sleep(0.1)
        runner.at(0, "check", slow)             # while it runs: once more after it, not lost
        runner.at(0, "check", slow)             # and not twice more
        await asyncio.sleep(1.0)
        await runner.drain(1)
        return log

    assert asyncio.run(main()) == ["start", "end", "start", "end"]


def test_only_coroutine_functions_are_accepted():
    async def main() -> None:
        runner = JobRunner()
        with pytest.raises(TypeError, match="coroutine function"):
            runner.every(1, "sync", lambda: None)       # would run in the loop's thread pool
        await runner.drain(1)

    asyncio.run(main())


def test_nothing_fires_and_no_apscheduler_thread_is_left_after_drain():
    threads_before = {t.ident for t in threading.enumerate()}

    async def main() -> dict:
        runner = JobRunner()
        runs: list[float] = []

        async def tick() -> None:
            runs.append(time.monotonic())

        async def long() -> None:
            await asyncio.sleep(30)

        runner.every(0.1, "tick", tick)
        runner.cron("minute", tick, second="*")
        runner.at(0, "long", long)
        await asyncio.sleep(0.5)
        cancelled = await runner.drain(0.2)
        timer = runner.timer()
        n = len(runs)
        await asyncio.sleep(1.2)
        runner.every(0.1, "late", tick)           # after stop: ignored
        return {"cancelled": cancelled, "running": timer.running, "jobs": timer.get_jobs(),
                "fired_after": len(runs) - n, "n": n}

    out = asyncio.run(main())
    assert out["n"] >= 3
    assert out["cancelled"] == 1
    assert out["running"] is False and out["jobs"] == []
    assert out["fired_after"] == 0
    left = [t for t in threading.enumerate() if t.ident not in threads_before]
    assert left == [], left
