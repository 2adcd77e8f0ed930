"""Runs CPU-heavy pure stages off the event loop, in a pool of worker processes.

Owns the worker processes: their number (the cores by default), their start-up
(trafilatura and the language model loaded once per worker), per-call time limits,
and recovery when a worker dies. Two stages use it: extraction (`extract`: a page that
crashed or timed out comes back as an empty `Extracted`, logged, and the caller falls
back to the feed, see `extract.article_text`) and feed parsing (`call`: a crash or
timeout raises `WorkerFailed`). Must not fetch, and must not decide what to do with
the result.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from monitor.extract import article as extract_mod
from monitor.extract import orphans
from monitor.models import Extracted

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 20.0
# The parent waits this much longer than the in-worker limit before it gives up on a
# worker (stuck in C code, where the in-worker alarm cannot interrupt) and replaces the pool.
_HARD_TIMEOUT_GRACE = 5.0


class PageTimeout(Exception):
    """Raised inside a worker when one page takes longer than its limit."""


class PoolClosed(RuntimeError):
    """Work was given to a pool after close()."""


class WorkerFailed(Exception):
    """A call's worker crashed twice, or the call ran past its time limit."""


def _on_alarm(signum, frame):  # noqa: ARG001 - signal handler signature
    raise PageTimeout()


def _init_worker() -> None:
    # A worker dies with its parent (the forkserver, which dies with the daemon): never an orphan.
    orphans.die_with_parent()
    # Workers ignore Ctrl-C: the daemon's shutdown closes the pool in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, _on_alarm)
    # The language model loads on the first page that needs it (or in warm_up()): a worker
    # that only has to start after a crash should be back in a fraction of a second.
    extract_mod.warm_up(language=False)


def _run_page(fn: Callable[..., Any], timeout: float, *args: Any) -> Any:
    """In a worker: fn(*args) under a wall-clock alarm; None when it timed out."""
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return fn(*args)
    except PageTimeout:
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


class ExtractorPool:
    """A process pool for extraction: `await pool.extract(html, url)`; `close()` or use `with`.

    `workers` defaults to the number of cores. `fn` is the function run in the workers
    (a module-level callable; tests substitute one that crashes). A crash or timeout on
    one page gives an empty `Extracted`; pages that were in flight on a pool that broke
    are retried once on a fresh pool.
    """

    def __init__(self, workers: int | None = None, timeout: float = DEFAULT_TIMEOUT_SECONDS,
                 fn: Callable[[str, str], Extracted] = extract_mod.extract, mp_context: str = "forkserver"):
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.timeout = timeout
        self._fn = fn
        self._ctx = multiprocessing.get_context(mp_context)
        if mp_context == "forkserver":
            # Workers fork from a server that has imported trafilatura once: cheap starts. The
            # server watches this process and exits with it (monitor.extract.orphans).
            orphans.mark_owner()
            self._ctx.set_forkserver_preload(["monitor.extract.orphans", "monitor.extract.article"])
        self._generation = 0
        self._executor: ProcessPoolExecutor | None = None
        self._closed = False
        self.crashes = 0
        self.timeouts = 0

    def _pool(self) -> tuple[ProcessPoolExecutor, int]:
        if self._closed:
            raise PoolClosed("ExtractorPool is closed")
        if self._executor is None:
            self._executor = ProcessPoolExecutor(self.workers, mp_context=self._ctx, initializer=_init_worker)
            self._generation += 1
        return self._executor, self._generation

    def _replace(self, generation: int, kill: bool) -> None:
        """Drop the pool of that generation (once, however many pages saw it fail)."""
        if generation != self._generation or self._executor is None:
            return
        executor, self._executor = self._executor, None
        if kill:
            # A stuck worker never returns; shutdown() alone would wait for it forever.
            for proc in list(getattr(executor, "_processes", {}).values()):
                proc.kill()
        executor.shutdown(wait=False, cancel_futures=True)

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

        Exceptions raised by fn come back as they are. A crashed pool is replaced and the
        call retried once; a second crash, or a call past the time limit, raises WorkerFailed.
        """
        for attempt in (1, 2):
            executor, generation = self._pool()
            future = asyncio.wrap_future(executor.submit(_run_page, fn, self.timeout, *args))
            try:
                result = await asyncio.wait_for(future, self.timeout + _HARD_TIMEOUT_GRACE)
            except BrokenProcessPool:
                self._replace(generation, kill=False)
                if attempt == 1:
                    continue
                self.crashes += 1
                log.error("worker crashed twice on %s", what)
                raise WorkerFailed(f"worker crashed on {what}") from None
            except asyncio.TimeoutError:
                self._replace(generation, kill=True)
                self.timeouts += 1
                log.error("worker stuck on %s; pool replaced", what)
                raise WorkerFailed(f"worker stuck on {what}") from None
            if result is None:
                self.timeouts += 1
                log.warning("%s took over %.0f s in its worker; abandoned", what, self.timeout)
                raise WorkerFailed(f"{what} took over {self.timeout:.0f} s")
            return result
        raise AssertionError("not reached: the loop returns or raises on its second attempt")

    def close(self) -> None:
        """Stop the workers (waiting for pages in progress)."""
        self._closed = True
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> ExtractorPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    async def __aenter__(self) -> ExtractorPool:
        return self

    async def __aexit__(self, *exc) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.close)
