"""The job runner: every job of the daemon (feed polls, deliveries, reloads, housekeeping) runs here.

Owns starting a job as its own asyncio task, at most one running job per name, its
deadline, blocking work in threads (`in_thread`, where a job opens its own store
connection), logging a failed job without stopping the others, and draining at
shutdown: no new job starts once `stopping` is set, running ones get the grace period,
then are cancelled. A job that wants the database opens its own connection
(`Store.session()`), so no two jobs share one.

The timer under it is APScheduler 3 (`AsyncIOScheduler`, on the daemon's own loop):
interval (`every`), cron (`cron`) and one-off date (`at`) triggers. APScheduler only
says *when*; what it fires is `_fire`, a coroutine that hands the job to `start` and
returns at once, so APScheduler's executor never runs job code, never needs a thread
(only coroutine functions are accepted: a plain function would land in the loop's
thread pool) and never sees a job's exception. Trigger settings, chosen on purpose
(`TIMER_DEFAULTS`): `coalesce=True` (a loop that was busy, or a suspended machine, gets
one late run, not a burst), `max_instances=1` (and the runner's one job per name on
top), a misfire grace of one period but at least `MIN_GRACE_SECONDS` for interval and
cron triggers (a loop busy for seconds still gets its one coalesced run) and none for
date triggers (a one-off is never dropped).
Errors of the timer itself are logged through APScheduler's events. `drain` shuts the
timer down before waiting for jobs, so nothing fires during the grace.
Must not know what a job does.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger("monitor.daemon.jobs")

# the timer's settings for every trigger (see the module docstring); misfire_grace_time is
# set per trigger: one period for `every` and `cron`, None (no limit) for `at`
TIMER_DEFAULTS = {"coalesce": True, "max_instances": 1}
# a run later than this is dropped (and logged): long enough that a loop busy for seconds on
# a loaded machine still gets its one coalesced run, short enough that after a suspend of
# hours a 1-second trigger does not fire for a moment that is long gone
MIN_GRACE_SECONDS = 60

T = TypeVar("T")


@dataclass
class Job:
    """One running job, as the runner (and status) sees it."""

    name: str
    kind: str
    started: float = field(default_factory=time.monotonic)
    deadline: float | None = None           # seconds from start, or None


class JobRunner:
    """Runs jobs on the current event loop; see the module docstring."""

    def __init__(self) -> None:
        self.stopping = asyncio.Event()
        self.stop_flag = threading.Event()       # the same signal, for jobs running in threads
        self.running: dict[str, tuple[Job, asyncio.Task]] = {}
        self.failures = 0
        self._again: set[str] = set()
        self._timer: AsyncIOScheduler | None = None
        self._timer_stopped = False

    # -- starting jobs -------------------------------------------------------------
    def is_running(self, name: str) -> bool:
        return name in self.running

    def start(self, name: str, fn: Callable[[], Awaitable[Any]], *, kind: str = "",
              deadline: float | None = None, again: bool = False,
              on_done: Callable[[Job, BaseException | None], None] | None = None) -> asyncio.Task | None:
        """Start `fn()` now as job `name`; None when stopping or a job of that name is running
        (with `again`, that job is then started once more when the running one ends).

        A job past its deadline is cancelled (its own code decides what was saved). An
        exception is logged with the job's name and counted; it never reaches the caller.
        """
        if self.stopping.is_set():
            return None
        if name in self.running:
            if again:
                self._again.add(name)
            return None
        job = Job(name, kind or name.split(":", 1)[0], deadline=deadline)
        task = asyncio.get_running_loop().create_task(self._run(job, fn, on_done, again),
                                                      name=f"job {name}")
        self.running[name] = (job, task)
        return task

    async def _run(self, job: Job, fn: Callable[[], Awaitable[Any]],
                   on_done: Callable[[Job, BaseException | None], None] | None, again: bool = False) -> None:
        error: BaseException | None = None
        try:
            if job.deadline is None:
                await fn()
            else:
                async with asyncio.timeout(job.deadline):
                    await fn()
        except TimeoutError as exc:
            error = exc
            log.warning("job %s passed its deadline of %.0fs and was stopped", job.name, job.deadline or 0)
        except asyncio.CancelledError as exc:
            error = exc
            if self.stopping.is_set():
                log.warning("job %s cancelled at shutdown; its unsaved work is redone next start", job.name)
            raise
        except Exception as exc:
            error = exc
            self.failures += 1
            log.exception("job %s failed; the daemon keeps running", job.name)
        finally:
            self.running.pop(job.name, None)
            if on_done is not None:
                try:
                    on_done(job, error)
                except Exception:
                    log.exception("bookkeeping after job %s failed", job.name)
            if job.name in self._again:
                self._again.discard(job.name)
                self.start(job.name, fn, kind=job.kind, deadline=job.deadline, again=again, on_done=on_done)

    async def in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """Blocking work (housekeeping, compiling rules) in a thread of its own.

        The function runs without the event loop, so it must open its own store connection;
        it can watch `stop_flag` to end early at shutdown. The thread is a daemon thread:
        a chore still running when the grace is over does not hold the process (a write
        it left uncommitted is rolled back by SQLite, as after a crash).
        """
        return await in_daemon_thread(fn, *args)

    # -- the timer (APScheduler) -----------------------------------------------------
    def timer(self) -> AsyncIOScheduler:
        """The APScheduler instance, started on the running loop at first use."""
        if self._timer is None:
            timer = AsyncIOScheduler(timezone=timezone.utc, job_defaults=dict(TIMER_DEFAULTS))
            timer.add_listener(self._timer_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
            timer.start()
            self._timer = timer
        return self._timer

    def _timer_event(self, event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_ERROR:
            self.failures += 1
            log.error("trigger %s failed; the timer keeps running", event.job_id,
                      exc_info=(type(event.exception), event.exception, event.exception.__traceback__)
                      if event.exception is not None else None)
        elif event.code == EVENT_JOB_MISSED:
            log.warning("trigger %s missed its run at %s", event.job_id, event.scheduled_run_time)
        else:      # the previous _fire has not run yet (the loop was busy): nothing is lost
            log.info("trigger %s still pending; this run was merged into it", event.job_id)

    async def _fire(self, name: str, fn: Callable[[], Awaitable[Any]], deadline: float | None,
                    again: bool) -> None:
        """What APScheduler runs: hand the job to the runner, never raise into the timer."""
        try:
            self.start(name, fn, deadline=deadline, again=again)
        except Exception:
            self.failures += 1
            log.exception("starting job %s failed; the timer keeps running", name)

    def _schedule(self, name: str, fn: Callable[[], Awaitable[Any]], trigger: Any, *,
                  deadline: float | None, again: bool, grace: int | None,
                  first: datetime | None = None) -> None:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"job {name}: a coroutine function is needed, got {fn!r}")
        if self.stopping.is_set():
            return
        extra = {"next_run_time": first} if first is not None else {}
        self.timer().add_job(self._fire, trigger, args=(name, fn, deadline, again), id=name, name=name,
                             replace_existing=True, misfire_grace_time=grace, **extra)

    def every(self, seconds: float, name: str, fn: Callable[[], Awaitable[Any]], *, first: float = 0.0,
              deadline: float | None = None) -> None:
        """Start job `name` every `seconds` (the first after `first`); a run still going is not doubled."""
        start = datetime.now(timezone.utc) + timedelta(seconds=first)
        self._schedule(name, fn, IntervalTrigger(seconds=seconds, start_date=start), deadline=deadline,
                       again=False, grace=max(MIN_GRACE_SECONDS, math.ceil(seconds)), first=start)

    def cron(self, name: str, fn: Callable[[], Awaitable[Any]], *, now: bool = False,
             deadline: float | None = None, **fields: Any) -> None:
        """Start job `name` on a cron schedule (`second=0`: every minute on the minute), also
        at once with `now`."""
        trigger = CronTrigger(timezone=timezone.utc, **fields)
        first = datetime.now(timezone.utc) if now else None
        self._schedule(name, fn, trigger, deadline=deadline, again=False, grace=60, first=first)

    def at(self, seconds: float, name: str, fn: Callable[[], Awaitable[Any]], *,
           deadline: float | None = None) -> None:
        """Start job `name` once, `seconds` from now, replacing an earlier `at` of that name; if
        the job is running then, it starts again when it ends (so a wake-up is never lost)."""
        when = datetime.now(timezone.utc) + timedelta(seconds=max(0.0, seconds))
        self._schedule(name, fn, DateTrigger(run_date=when, timezone=timezone.utc), deadline=deadline,
                       again=True, grace=None)

    # -- shutdown ------------------------------------------------------------------
    def stop(self) -> None:
        """No new job starts from now on (signal handlers call this); the timer stops firing."""
        self.stopping.set()
        self.stop_flag.set()
        if self._timer is not None and not self._timer_stopped:
            self._timer_stopped = True
            self._timer.remove_all_jobs()
            self._timer.shutdown(wait=False)       # done on the loop's next turn

    async def drain(self, grace: float) -> int:
        """Wait up to `grace` seconds for running jobs, then cancel the rest; returns how many were cancelled."""
        self.stop()
        while self._timer is not None and self._timer.running:
            await asyncio.sleep(0)                  # let the timer's shutdown run (it is posted to the loop)
        self._again.clear()
        tasks = [task for _, task in self.running.values()]
        cancelled = 0
        if tasks:
            _, still = await asyncio.wait(tasks, timeout=grace)
            for task in still:
                task.cancel()
            cancelled = len(still)
            if still:
                await asyncio.wait(still, timeout=5)
        # threads cannot be cancelled: they watch stop_flag, and being daemon threads never hold the exit
        return cancelled


async def in_daemon_thread(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` in a daemon thread of its own, awaited. Unlike `asyncio.to_thread` (whose
    pool threads the interpreter joins at exit), a chore still running at shutdown never
    holds the process: its result is simply dropped."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if not future.done():
            future.set_result(value) if ok else future.set_exception(value)

    def work() -> None:
        try:
            result = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting job
            outcome: tuple[bool, Any] = (False, exc)
        else:
            outcome = (True, result)
        if not loop.is_closed():
            try:
                loop.call_soon_threadsafe(settle, *outcome)
            except RuntimeError:      # the loop closed meanwhile
                pass

    threading.Thread(target=work, name=f"monitor-job {getattr(fn, '__name__', 'chore')}", daemon=True).start()
    return await future
