"""The `workers:` section: leases and heartbeats of claimed work (docs/scaling.md).

Owns the settings of a worker's claims: how long a lease lasts (a dead worker's feeds,
hosts and singleton jobs are taken over after it), how often a live worker renews its
leases, how many hosts one worker polls at once. Must not read other sections.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from monitor.config.checker import Checker, bounded


@dataclass(frozen=True)
class WorkerSettings:
    lease_seconds: float = bounded(60.0, ge=2, le=3600)      # a dead worker's work is taken over after this
    heartbeat_seconds: float = bounded(10.0, gt=0, le=600)   # how often a live worker extends its leases
    max_hosts: int = bounded(0, ge=0, hint="0 = 2 x fetch.concurrency / fetch.per_host")


def check_workers(c: Checker, d: Any, w: WorkerSettings) -> None:
    """A lease must outlive two heartbeats, or a live worker's work is taken from it."""
    if isinstance(d, dict) and w.heartbeat_seconds * 2 > w.lease_seconds:
        c.err(d.get("heartbeat_seconds", d.get("lease_seconds")),
              f"workers.heartbeat_seconds ({w.heartbeat_seconds:g}) must be at most half of "
              f"workers.lease_seconds ({w.lease_seconds:g})", d, "heartbeat_seconds")
