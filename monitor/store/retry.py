"""Running a unit of work again when PostgreSQL aborted it to break a deadlock or a serialization conflict.

Owns which errors mean "the same work would succeed if run again" (SQLSTATE 40P01
deadlock_detected and 40001 serialization_failure: the server rolled the transaction back,
nothing of it was kept), how often and after how long to try again (a few attempts,
jittered and growing, so two workers that collided do not collide again in step), and
the sync and async forms of that loop, and `retried`, the decorator of the store's
write methods that are a unit of work each. The work passed in is a whole unit: it opens its
own `store.transaction()` and must not have done anything outside the database that a
retry would repeat (the pipeline resets its story cache before trying again). On SQLite
nothing is retried here: its writers queue on the write lock (busy timeout) and do not
deadlock. Must not hold SQL.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

log = logging.getLogger("monitor.store.retry")

T = TypeVar("T")

ATTEMPTS = 5                  # the first try and four more
FIRST_DELAY_SECONDS = 0.01    # then doubling, each with up to as much again of jitter

_RETRYABLE_STATES = {"40P01", "40001"}


def retryable(exc: BaseException) -> bool:
    """A deadlock or serialization failure PostgreSQL resolved by rolling this transaction back."""
    return getattr(exc, "sqlstate", None) in _RETRYABLE_STATES


def delay(attempt: int) -> float:
    """Seconds to wait before attempt number `attempt` (2, 3, ...)."""
    base = FIRST_DELAY_SECONDS * 2 ** (attempt - 2)
    return base + random.uniform(0, base)


def _note(exc: BaseException, attempt: int, what: str) -> None:
    log.warning("%s: %s (%s); trying again (attempt %d of %d)", what, type(exc).__name__,
                str(exc).strip().splitlines()[0] if str(exc).strip() else "", attempt, ATTEMPTS,
                extra={"event": "db_retry", "sqlstate": getattr(exc, "sqlstate", None), "attempt": attempt})


def run(work: Callable[[], T], what: str = "unit of work", attempts: int = ATTEMPTS) -> T:
    """`work()`, run again (after a short jittered wait) while it fails with a retryable error."""
    attempt = 1
    while True:
        try:
            return work()
        except Exception as exc:
            if not retryable(exc) or attempt >= attempts:
                raise
            attempt += 1
            _note(exc, attempt, what)
            time.sleep(delay(attempt))


async def run_async(work: Callable[[], Awaitable[T]], what: str = "unit of work", attempts: int = ATTEMPTS,
                    before_retry: Callable[[], None] | None = None) -> T:
    """`await work()`, again while it fails with a retryable error; `before_retry` undoes what the
    failed attempt changed outside the database (the pipeline's story cache)."""
    attempt = 1
    while True:
        try:
            return await work()
        except Exception as exc:
            if not retryable(exc) or attempt >= attempts:
                raise
            attempt += 1
            _note(exc, attempt, what)
            if before_retry is not None:
                before_retry()
            await asyncio.sleep(delay(attempt))


F = TypeVar("F", bound=Callable[..., Any])


def retried(fn: F) -> F:
    """A store method (or a function taking the store first) whose body is one unit of work:
    run again on a retryable error, unless called inside another unit (then that unit's
    caller retries: PostgreSQL has aborted the whole transaction, not just this part)."""
    @functools.wraps(fn)
    def wrapper(store: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(store, "_tx_owner", None) is not None:
            return fn(store, *args, **kwargs)
        return run(lambda: fn(store, *args, **kwargs), what=fn.__qualname__)
    return wrapper  # type: ignore[return-value]
