"""The event loop's own health: how late it runs a short timer, i.e. how long something blocked it.

Owns the probe job of the daemon: every `PROBE_SECONDS` it sleeps and measures how much
later than asked it woke; each lag goes to `monitor_event_loop_lag_seconds` (/metrics)
and a lag of `WARN_SECONDS` or more is logged (event `loop_blocked`), so a chore that
slips onto the loop (a big rule set, a slow query) shows up by itself. Must not do
anything else: it never touches the store.
"""

from __future__ import annotations

import asyncio
import logging
import time

from monitor import metrics

log = logging.getLogger("monitor.daemon.looplag")

PROBE_SECONDS = 0.25
WARN_SECONDS = 1.0


async def probe(stopping: asyncio.Event, *, every: float = PROBE_SECONDS, warn: float = WARN_SECONDS) -> float:
    """Measure until `stopping` is set; returns the worst lag seen."""
    worst = 0.0
    while not stopping.is_set():
        asked = time.monotonic()
        try:
            await asyncio.wait_for(stopping.wait(), timeout=every)
            break
        except TimeoutError:
            pass
        lag = time.monotonic() - asked - every
        metrics.loop_lag(lag)
        worst = max(worst, lag)
        if lag >= warn:
            log.warning("event loop blocked for %.1fs", lag, extra={"event": "loop_blocked", "seconds": round(lag, 3)})
    return worst
