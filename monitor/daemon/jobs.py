"""The job runner: every job of the daemon (feed polls, deliveries, reloads, housekeeping) runs here.

Owns starting a job as its own asyncio task, at most one running job per name, its
deadline, periodic triggers (`every`), blocking work in threads (`in_thread`, where a
job opens its own store connection), logging a failed job without stopping the
others, and draining at shutdown: no new job starts once `stopping` is set, running
ones get the grace period, then are cancelled. A job that wants the database opens its
own connection (`Store.session()`), so no two jobs share one. Must not know what a job
does.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

log = logging.getLogger("monitor.daemon.jobs")

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
        self._triggers: list[asyncio.Task] = []
        self.failures = 0

    # -- starting jobs -------------------------------------------------------------
    def is_running(self, name: str) -> bool:
        return name in self.running

    def start(self, name: str, fn: Callable[[], Awaitable[Any]], *, kind: str = "",
              deadline: float | None = None,
              on_done: Callable[[Job, BaseException | None], None] | None = None) -> asyncio.Task | None:
        """Start `fn()` now as job `name`; None when stopping or a job of that name is running.

        A job past its deadline is cancelled (its own code decides what was saved). An
        exception is logged with the job's name and counted; it never reaches the caller.
        """
        if self.stopping.is_set() or name in self.running:
            return None
        job = Job(name, kind or name.split(":", 1)[0], deadline=deadline)
        task = asyncio.get_running_loop().create_task(self._run(job, fn, on_done), name=f"job {name}")
        self.running[name] = (job, task)
        return task

    async def _run(self, job: Job, fn: Callable[[], Awaitable[Any]],
                   on_done: Callable[[Job, BaseException | None], None] | None) -> None:
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

    async def in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """Blocking work (housekeeping, compiling rules) in a thread of its own.

        The function runs without the event loop, so it must open its own store connection;
        it can watch `stop_flag` to end early at shutdown. The thread is a daemon thread:
        a chore still running when the grace is over does not hold the process (a write
        it left uncommitted is rolled back by SQLite, as after a crash).
        """
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
                loop.call_soon_threadsafe(settle, *outcome)

        threading.Thread(target=work, name=f"monitor-job {getattr(fn, '__name__', 'chore')}", daemon=True).start()
        return await future

    def every(self, seconds: float, name: str, fn: Callable[[], Awaitable[Any]], *, first: float = 0.0,
              deadline: float | None = None) -> None:
        """Start job `name` every `seconds` (the first after `first`); a run still going is not doubled."""
        async def trigger() -> None:
            delay = first
            while not self.stopping.is_set():
                try:
                    await asyncio.wait_for(self.stopping.wait(), timeout=delay)
                    return
                except TimeoutError:
                    pass
                self.start(name, fn, deadline=deadline)
                delay = seconds
        self._triggers.append(asyncio.get_running_loop().create_task(trigger(), name=f"trigger {name}"))

    # -- shutdown ------------------------------------------------------------------
    def stop(self) -> None:
        """No new job starts from now on (signal handlers call this)."""
        self.stopping.set()
        self.stop_flag.set()

    async def drain(self, grace: float) -> int:
        """Wait up to `grace` seconds for running jobs, then cancel the rest; returns how many were cancelled."""
        self.stop()
        for t in self._triggers:
            t.cancel()
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
