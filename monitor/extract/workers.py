"""One worker process of the pool, and the parent's handle on it.

Owns the process side: start-up (trafilatura loaded once, Ctrl-C ignored), the loop that
receives a unit of work over the worker's own pipe, runs it under a wall-clock alarm
and sends the outcome back: ("ok", value), ("timeout", None) or ("error", exception).
A batch sends its items' outcomes in chunks, a chunk at least every `FLUSH_SECONDS` of
work and at the batch's end (one pipe message for a feed's 30 articles, not 30), and
writes the index of the item it is on into shared memory (`Worker.progress`) before
starting it: the parent always knows which item a worker died or stuck on, and can give
up on that one item alone. Must not decide retries or what a failure means (pool.py does).
"""

from __future__ import annotations

import asyncio
import pickle
import signal
import sys
import time
from collections.abc import Callable
from concurrent.futures import Executor
from multiprocessing.connection import Connection
from typing import Any

from monitor.extract import article as extract_mod
from monitor.extract import orphans

SETUP_SECONDS = 300.0
# A batch's outcomes wait in the worker at most this long (of work) before they are sent
FLUSH_SECONDS = 0.05


class UnitTimeout(Exception):
    """Raised inside a worker when one unit takes longer than its limit."""


def _on_alarm(signum, frame):  # noqa: ARG001 - signal handler signature
    raise UnitTimeout()


def _outcome(fn: Callable[..., Any], timeout: float, args: tuple) -> tuple[str, Any]:
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return "ok", fn(*args)
    except UnitTimeout:
        return "timeout", None
    except Exception as exc:  # the caller gets the function's own exception back
        return "error", exc
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _send(conn: Connection, message: tuple) -> None:
    try:
        # what Connection.send does, without a ForkingPickler per message (nothing sent here needs
        # its reducers; recv() reads plain pickles)
        conn.send_bytes(pickle.dumps(message, pickle.HIGHEST_PROTOCOL))
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        # an exception (or value) that does not pickle still reaches the parent as an error
        conn.send(message[:-2] + ("error", RuntimeError(f"unpicklable result: {exc}")))


def _send_chunk(conn: Connection, chunk: list[tuple]) -> None:
    try:
        conn.send_bytes(pickle.dumps(chunk, pickle.HIGHEST_PROTOCOL))
    except (pickle.PicklingError, TypeError, AttributeError):
        # one outcome that does not pickle must not cost the others theirs
        out = []
        for i, status, value in chunk:
            try:
                pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
                out.append((i, status, value))
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                out.append((i, "error", RuntimeError(f"unpicklable result: {exc}")))
        conn.send_bytes(pickle.dumps(out, pickle.HIGHEST_PROTOCOL))


def worker_main(conn: Connection, progress: Any = None) -> None:
    """The worker's loop: ("call", fn, timeout, args) or ("batch", fn, timeout, items, context, setup).

    A batch runs setup(context) once (None: the context itself), then fn(item, state) per
    item, each item's index written to `progress` (shared memory) before it starts, and sends
    lists of (index, status, value), in order.
    """
    orphans.die_with_parent()       # with its parent (the forkserver, which dies with the daemon): never an orphan
    signal.signal(signal.SIGINT, signal.SIG_IGN)       # the daemon's shutdown closes the pool in order
    signal.signal(signal.SIGALRM, _on_alarm)
    # The language model loads on the first page that needs it: a worker that has to start
    # after a crash should be back in a fraction of a second. trafilatura's own lazy state is
    # warmed only where the forkserver loaded it (pages are extracted): a worker that only
    # parses feeds and matches never imports it (extract.pool, preload).
    if "trafilatura" in sys.modules:
        extract_mod.warm_up(language=False)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "call":
            _, fn, timeout, args = message
            _send(conn, _outcome(fn, timeout, args))
        elif message[0] == "batch":
            _, fn, timeout, items, context, setup = message
            if progress is not None:
                progress.value = -1
            # the setup (loading a rule set, say) is not one item's work: no item limit on it
            status, state = _outcome(setup, SETUP_SECONDS, (context,)) if setup else ("ok", context)
            chunk: list[tuple] = []
            flushed = time.monotonic()
            for i, item in enumerate(items):
                if progress is not None:
                    progress.value = i
                outcome = _outcome(fn, timeout, (item, state)) if status == "ok" else (status, state)
                chunk.append((i, *outcome))
                now = time.monotonic()
                if now - flushed >= FLUSH_SECONDS or i == len(items) - 1:
                    _send_chunk(conn, chunk)
                    chunk, flushed = [], now


class WorkerDied(Exception):
    """The worker's pipe closed: the process died."""


class WorkerStuck(Exception):
    """No answer within the hard limit."""


class Worker:
    """The parent's handle: the process and its end of the pipe."""

    def __init__(self, ctx: Any):
        parent, child = ctx.Pipe()
        # the batch item the worker is on (-1: its setup), for the parent to charge a crash or
        # a stuck worker to: outcomes come in chunks, so the pipe alone cannot say
        self.progress = ctx.RawValue("l", -1)
        self.proc = ctx.Process(target=worker_main, args=(child, self.progress), daemon=True,
                                name="monitor-worker")
        self.proc.start()
        child.close()
        self.conn: Connection = parent

    async def exchange(self, io: Executor, message: tuple | None, hard: float) -> Any:
        """Send (unless None) and wait for the worker's next message; WorkerDied or WorkerStuck on failure.

        The blocking pipe calls run in `io` threads; the event loop only waits.
        """
        loop = asyncio.get_running_loop()
        try:
            if message is not None:
                await loop.run_in_executor(io, self.conn.send, message)
            return await asyncio.wait_for(loop.run_in_executor(io, self.conn.recv), hard)
        except TimeoutError:            # before OSError, whose subclass it is
            raise WorkerStuck() from None
        except (EOFError, OSError):
            raise WorkerDied() from None

    async def exchange_ready(self, io: Executor, message: tuple | None, hard: float) -> list[Any]:
        """Like `exchange`, but also every further message already waiting in the pipe, in order.

        A batch's outcomes come one per item; taking those already sent in the same thread
        hop costs the event loop one hand-over per burst, not one per item (30 per feed)."""
        loop = asyncio.get_running_loop()
        try:
            if message is not None:
                await loop.run_in_executor(io, self.conn.send, message)
            return await asyncio.wait_for(loop.run_in_executor(io, self._recv_ready), hard)
        except TimeoutError:
            raise WorkerStuck() from None
        except (EOFError, OSError):
            raise WorkerDied() from None

    def _recv_ready(self) -> list[Any]:
        got = [self.conn.recv()]
        try:
            while self.conn.poll(0):
                got.append(self.conn.recv())
        except (EOFError, OSError):     # died after its last answer: the next exchange says so
            pass
        return got

    def kill(self) -> None:
        """Stop this worker now (stuck, crashed, or its caller gave up); the others run on."""
        try:
            self.proc.kill()
            self.proc.join(timeout=5)
        finally:
            self.conn.close()

    def stop(self) -> None:
        """Let the worker end on its own (close the pipe), then make sure it did."""
        self.conn.close()
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(timeout=5)
