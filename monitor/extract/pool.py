"""Runs CPU-heavy pure stages off the event loop, in a pool of worker processes.

Owns the worker processes (extract/workers.py): their number (the cores by default),
per-unit time limits and recovery. Each worker has its own pipe, so a unit that overruns
or crashes costs that unit and that one worker (killed and replaced alone), never the
pool. Used for extraction (`extract`: empty `Extracted` on crash or timeout), feed
parsing (`call`: `WorkerFailed`) and a feed's per-article analysis (`map_batch`: the
limit applies to each item). When every worker is busy, units wait earliest deadline first
(`by_deadline`: a feed job's units, pages and analysis alike, carry its deadline), so the
feeds of a burst finish, and are saved, one after another instead of all at its end.
Must not fetch, nor decide what to do with results.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import itertools
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from monitor.extract import article as extract_mod
from monitor.extract import orphans
from monitor.extract.workers import FLUSH_SECONDS, SETUP_SECONDS, Worker, WorkerDied, WorkerStuck
from monitor.models import Extracted

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 20.0
# What the forkserver imports for the workers: feed parsing and per-article analysis
# always, trafilatura (extraction) when pages are extracted. `monitor run` and `poll`
# leave trafilatura out when no feed has full text on (docs/reliability.md, footprint).
# The story signature is numpy only (`stories.dedupe.sketch`): no datasketch, no scipy.
BASE_PRELOAD = ("monitor.ingest.feeds", "monitor.daemon.analysis")
FULL_PRELOAD = (*BASE_PRELOAD, "trafilatura", "monitor.extract.article")
# The parent waits this much longer than the in-worker limit before it gives up on a
# worker (stuck in C code, where the in-worker alarm cannot interrupt) and kills it.
_HARD_TIMEOUT_GRACE = 5.0
# The deadline (time.monotonic()) of the job giving work from this task, or None: see by_deadline.
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("pool_deadline", default=None)


@contextmanager
def by_deadline(deadline: float) -> Iterator[None]:
    """Units given to a pool inside this block, and by the tasks started in it, wait their turn for a
    worker by `deadline` (a time.monotonic() value), earliest first; a unit given without one waits by
    the time it was given. (First come, first served, a 30-feed burst interleaved every feed's pages
    and analyses, and the first feed was saved only seconds later, with the last.)"""
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


class PoolClosed(RuntimeError):
    """Work was given to a pool after close()."""


class WorkerFailed(Exception):
    """A call's worker crashed twice, or the call ran past its time limit."""


class ExtractorPool:
    """A process pool: `await pool.extract(html, url)`, `call(fn, ...)`, `map_batch(fn, items, ctx)`.

    `workers` defaults to the number of cores. `fn` is the extraction function run in the
    workers (a module-level callable; tests substitute one that crashes). A unit whose
    worker crashed is retried once on a fresh worker. Usable from any event loop.
    """

    def __init__(self, workers: int | None = None, timeout: float = DEFAULT_TIMEOUT_SECONDS,
                 fn: Callable[[str, str], Extracted] = extract_mod.extract, mp_context: str = "forkserver",
                 preload: Sequence[str] = FULL_PRELOAD):
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.timeout = timeout
        self._fn = fn
        self._ctx = multiprocessing.get_context(mp_context)
        if mp_context == "forkserver":
            # Workers fork from a server that has imported trafilatura once: cheap starts. The
            # server watches this process and exits with it (monitor.extract.orphans).
            # What the server imports is shared by every worker forked from it (copy-on-write):
            # `preload` names what the workers will run, the rest each worker imports on first use.
            orphans.mark_owner()
            self._ctx.set_forkserver_preload(["monitor.extract.orphans", *preload])
        self._io = ThreadPoolExecutor(max_workers=2 * self.workers + 2, thread_name_prefix="monitor-pool")
        self._lock = threading.Lock()
        self._idle: list[Worker] = []
        self._busy: set[Worker] = set()
        self._starting = 0
        # (deadline, arrival, loop, future): a heap, earliest deadline first, then first come
        self._waiters: list[tuple[float, int, asyncio.AbstractEventLoop, asyncio.Future]] = []
        self._arrivals = itertools.count()
        self._closed = False
        self.crashes = 0
        self.timeouts = 0
        self.replaced = 0          # workers killed and replaced (stuck or crashed); the others ran on

    # -- workers ----------------------------------------------------------------------
    async def _acquire(self) -> Worker:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._closed:
                raise PoolClosed("ExtractorPool is closed")
            if self._idle:
                worker = self._idle.pop()
                self._busy.add(worker)
                return worker
            spawn = len(self._busy) + self._starting < self.workers
            if spawn:
                self._starting += 1
            else:
                waiter = loop.create_future()
                deadline = _deadline.get()
                heapq.heappush(self._waiters, (time.monotonic() if deadline is None else deadline,
                                               next(self._arrivals), loop, waiter))
        if spawn:
            try:
                worker = await loop.run_in_executor(self._io, Worker, self._ctx)
            finally:
                with self._lock:
                    self._starting -= 1
            with self._lock:
                self._busy.add(worker)
            return worker
        return await waiter

    def _release(self, worker: Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
            if self._closed:
                worker.stop()
                return
            while self._waiters:
                _, _, loop, waiter = heapq.heappop(self._waiters)
                if not waiter.done() and not loop.is_closed():
                    self._busy.add(worker)
                    loop.call_soon_threadsafe(_hand_over, waiter, worker, self)
                    return
            self._idle.append(worker)

    def _discard(self, worker: Worker) -> None:
        """Kill one worker; a caller waiting for a worker gets a fresh one."""
        worker.kill()
        self.replaced += 1
        with self._lock:
            self._busy.discard(worker)
            waiting = [w for w in self._waiters if not w[3].done()]
            spawn = bool(waiting) and not self._closed
            if spawn:
                self._starting += 1
        if spawn:
            loop = waiting[0][2]
            loop.call_soon_threadsafe(lambda: loop.create_task(self._spawn_for_waiter()))

    async def _spawn_for_waiter(self) -> None:
        try:
            worker = await asyncio.get_running_loop().run_in_executor(self._io, Worker, self._ctx)
        except Exception:
            log.exception("could not start a worker")
            return
        finally:
            with self._lock:
                self._starting -= 1
        self._release(worker)

    # -- the three kinds of work -----------------------------------------------------------
    async def start(self) -> None:
        """Start every worker now, side by side, instead of on the first units."""
        loop = asyncio.get_running_loop()
        with self._lock:
            missing = self.workers - len(self._busy) - len(self._idle) - self._starting
            self._starting += max(0, missing)
        for result in await asyncio.gather(*(loop.run_in_executor(self._io, Worker, self._ctx)
                                             for _ in range(max(0, missing))), return_exceptions=True):
            with self._lock:
                self._starting -= 1
            if isinstance(result, Worker):
                self._release(result)
            else:
                log.error("could not start a worker: %s", result)

    async def warm_up(self) -> None:
        """Start every worker now and load the language model, instead of on the first pages."""
        # No declared language and over 1,000 chars: each worker runs the detector once.
        page = "<html><body><article><p>" + "A warm-up sentence for the workers. " * 40 + "</p></article></body></html>"
        await asyncio.gather(*(self.extract(page) for _ in range(self.workers)))

    async def extract(self, html: str | bytes, url: str = "") -> Extracted:
        """The page's `Extracted`, computed in a worker; empty on crash or timeout, never raises."""
        try:
            result = await self.call(self._fn, html, url, what=url or "<no url>")
        except WorkerFailed:
            return Extracted()
        except PoolClosed:
            raise
        except Exception:  # an exception that escaped fn in the worker
            log.exception("extraction failed on %s", url or "<no url>")
            return Extracted()
        return result

    async def call(self, fn: Callable[..., Any], *args: Any, what: str = "") -> Any:
        """fn(*args) in a worker (fn must be a module-level function, for pickling).

        Exceptions raised by fn come back as they are. A crashed worker is replaced and the
        call retried once; a second crash, or a call past the time limit, raises WorkerFailed.
        """
        for attempt in (1, 2):
            worker = await self._acquire()
            try:
                status, value = await worker.exchange(self._io, ("call", fn, self.timeout, args),
                                                     self.timeout + _HARD_TIMEOUT_GRACE)
            except WorkerDied:
                self._discard(worker)
                if attempt == 1:
                    continue
                self.crashes += 1
                log.error("worker crashed twice on %s", what)
                raise WorkerFailed(f"worker crashed on {what}") from None
            except WorkerStuck:
                self._discard(worker)
                self.timeouts += 1
                log.error("worker stuck on %s; that worker replaced", what)
                raise WorkerFailed(f"worker stuck on {what}") from None
            except BaseException:       # cancelled mid-unit: the worker's answer would be stale
                self._discard(worker)
                raise
            self._release(worker)
            if status == "timeout":
                self.timeouts += 1
                log.warning("%s took over %.0f s in its worker; abandoned", what, self.timeout)
                raise WorkerFailed(f"{what} took over {self.timeout:.0f} s")
            if status == "error":
                raise value
            return value
        raise AssertionError("not reached: the loop returns or raises on its second attempt")

    async def map_batch(self, fn: Callable[[Any, Any], Any], items: Sequence[Any], context: Any = None, *,
                        setup: Callable[[Any], Any] | None = None, timeout: float | None = None,
                        what: str = "") -> list[tuple[str, Any]]:
        """fn(item, state) for each item, in one worker, each item under its own time limit.

        `state` is setup(context) computed once in the worker (outside the item limits), or
        the context itself without a setup.

        Returns one (status, value) per item: "ok" with fn's result, "timeout" (the item ran
        past `timeout`), "error" with the exception fn raised, or "crashed" (its worker died
        on it twice). Only the item that overran or crashed is lost; the rest of the batch
        goes on in a fresh worker.
        """
        limit = self.timeout if timeout is None else timeout
        results: list[tuple[str, Any]] = [("pending", None)] * len(items)
        crashed_once = -1
        while True:
            # what is left: a retry skips the items already answered and the one given up on
            todo = [j for j, r in enumerate(results) if r[0] == "pending"]
            if not todo:
                break
            worker = await self._acquire()
            worker.progress.value = -1      # not this batch's item yet (a worker that dies before it starts)
            message: tuple | None = ("batch", fn, limit, [items[j] for j in todo], context, setup)
            got = 0                 # todo positions answered so far (chunks come in order)
            try:
                while got < len(todo):
                    # the first answer also waits for the setup; a chunk is sent at least every
                    # FLUSH_SECONDS of work, each item ends within its limit (the worker's alarm)
                    hard = (limit + _HARD_TIMEOUT_GRACE + FLUSH_SECONDS
                            + (SETUP_SECONDS if message is not None and setup else 0))
                    for chunk in await worker.exchange_ready(self._io, message, hard):
                        for i, status, value in chunk:
                            results[todo[i]] = (status, value)
                            got = i + 1
                            if status == "timeout":
                                self.timeouts += 1
                                log.warning("%s: item %d took over %.1f s in its worker; skipped", what,
                                            todo[i], limit)
                    message = None
            except (WorkerDied, WorkerStuck) as exc:
                self._discard(worker)
                # the item it was on (its shared progress, read after the kill); before the
                # first item (the setup) or between items, the first one not answered
                on = worker.progress.value
                at = todo[on] if got <= on < len(todo) else todo[min(got, len(todo) - 1)]
                if isinstance(exc, WorkerStuck):
                    self.timeouts += 1
                    results[at] = ("timeout", None)
                    log.error("%s: worker stuck on item %d; that worker replaced", what, at)
                elif crashed_once == at:
                    self.crashes += 1
                    results[at] = ("crashed", None)
                    log.error("%s: worker crashed twice on item %d", what, at)
                else:
                    crashed_once = at          # retried once on a fresh worker
                continue
            except BaseException:
                self._discard(worker)
                raise
            self._release(worker)
        return results

    # -- closing ------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the workers (each ends when its pipe closes; a stuck one is killed)."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            busy = list(self._busy)
            waiters, self._waiters = self._waiters, []
        for _, _, loop, waiter in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(_fail_waiter, waiter)
        for w in idle:
            w.stop()
        for w in busy:
            w.kill()
        self._io.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> ExtractorPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    async def __aenter__(self) -> ExtractorPool:
        return self

    async def __aexit__(self, *exc) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.close)


def _hand_over(waiter: asyncio.Future, worker: Worker, pool: ExtractorPool) -> None:
    if waiter.done():            # its caller gave up meanwhile: the worker goes back
        pool._release(worker)
    else:
        waiter.set_result(worker)


def _fail_waiter(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_exception(PoolClosed("ExtractorPool is closed"))
