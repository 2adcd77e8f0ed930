"""This process as one worker among several: its id, its claims, its heartbeat, its story catch-up.

Owns the policy around store/leases.py and store/storyindex.py: how many hosts to claim
(enough to keep `fetch.concurrency` busy at `fetch.per_host` each, twice over, so one
worker never takes all hosts on a cold start and the others idle), which hosts it is
polling (a host is given back when its last poll ends), the heartbeat that extends every
lease it holds, singleton jobs by named lease, and keeping the in-memory story index a
cache of the database's (catch up under the story lock before deciding, remember the
last number after commit). The same code runs for the one SQLite daemon (where nobody
else claims) and for each PostgreSQL worker. Must not poll or deliver.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Collection, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from monitor.config.workers import WorkerSettings
from monitor.store import leases, storyindex
from monitor.store.base import iso

log = logging.getLogger("monitor.daemon.workers")

STORY_LOCK_RETRY_SECONDS = 0.005   # the story lock was busy: try again after this
CLAIM_SECONDS = 0.1    # at most one claim per this (every finished poll wakes the scheduler)
IDLE_CLAIM_SECONDS = 1.0   # with no host given back since the last claim, claim at most this often


def default_worker_id() -> str:
    """host:pid, unique per process on a machine and readable in `monitor status`."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    """Does a process with this pid exist on this machine (signal 0 checks, sends nothing)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:       # it exists, under another user
        return True
    return True


def free_dead_workers(store: Any, but: str | None = None) -> list[str]:
    """Free the leases of this machine's workers whose process is gone (SIGKILL, a crash):
    a restarted daemon, or `poll --once` after one, need not wait a whole lease for them."""
    gone = [i for i, pid in leases.workers_on(store, socket.gethostname()) if i != but and not _alive(pid)]
    if gone:
        log.warning("workers %s of this machine are gone (killed?): their leases are free now", ", ".join(gone))
        leases.release_dead(store, gone)
    return gone


class Worker:
    """One worker's claims: see the module docstring."""

    def __init__(self, worker_id: str | None = None, settings: WorkerSettings | None = None, backend: str = "sqlite"):
        self.id = worker_id or default_worker_id()
        self.settings = settings or WorkerSettings()
        self.backend = backend
        self.hosts: Counter[str] = Counter()      # host -> this worker's polls running there
        self.claimed: dict[str, str] = {}         # feed url -> its host, while its poll runs
        self.unwanted: set[str] = set()           # feeds in the store but not in this config
        self.polls = 0
        self.story_seq = 0
        self._claimed_at = float("-inf")
        self._again = float("inf")
        self._released = True             # a host was given back since the last claim
        self._hosts_for: frozenset[str] = frozenset()   # the configured feeds whose hosts are filled in
        self._finished: list[str] = []            # polled feeds whose leases are not yet given back
        self._idle_hosts: set[str] = set()        # hosts with no poll of ours left, not yet given back
        self._story_turn: asyncio.Lock | None = None

    # -- life -----------------------------------------------------------------------
    def start(self, store: Any) -> None:
        free_dead_workers(store, but=self.id)
        leases.register_worker(store, self.id, socket.gethostname(), os.getpid(), self.backend)
        log.info("worker %s registered (%s, leases of %gs)", self.id, self.backend, self.settings.lease_seconds)

    def beat(self, store: Any) -> None:
        leases.heartbeat(store, self.id, self.settings.lease_seconds, self.polls)

    def stop(self, store: Any) -> None:
        leases.stop_worker(store, self.id)

    # -- feeds ----------------------------------------------------------------------
    def max_hosts(self, fetch: Any) -> int:
        if self.settings.max_hosts:
            return self.settings.max_hosts
        return max(1, 2 * -(-fetch.concurrency // max(1, fetch.per_host)))

    def claim(self, store: Any, now: datetime, configured: Iterable[str], fetch: Any) -> list[dict]:
        """Lease the due feeds this worker will poll now (feeds of hosts it holds or takes).

        At most one claim per CLAIM_SECONDS (a cold cycle finishes polls by the hundred a
        second), and while no host was given back since the last one, at most one per
        IDLE_CLAIM_SECONDS (what fell due meanwhile, or what another worker let go); a call
        sooner returns nothing and `claim_again_in` says when to call again. Each claim costs
        a few round trips to the database, so they are not spent on every finished poll."""
        gap = CLAIM_SECONDS if self._released else IDLE_CLAIM_SECONDS
        wait = self._claimed_at + gap - time.monotonic()
        if wait > 0:
            self._again = wait
            return []
        self._again = float("inf")
        self._claimed_at = time.monotonic()
        self._released = False
        wanted = frozenset(configured)
        if wanted != self._hosts_for:        # at start and after the config changed: new feeds' hosts
            leases.fill_hosts(store)
            self._hosts_for = wanted
        more = self.max_hosts(fetch) - len(self.hosts)
        # what ended since the last claim is given back by the claim itself (PostgreSQL: one statement
        # for both; if it fails, those leases run out on their own)
        urls, hosts = self._to_give_back()
        rows = leases.claim_feeds(store, self.id, iso(now), self.settings.lease_seconds, more,
                                  exclude=sorted(self.unwanted), release_urls=urls, release_hosts=hosts)
        out = []
        for row in rows:
            if row["url"] not in wanted and row.get("moved_from") not in wanted:
                self.unwanted.add(row["url"])          # removed from the config: never polled
                leases.release_feed(store, self.id, row["url"])
                continue
            host = row.get("host") or leases.host_of(row["url"])
            self.claimed[row["url"]] = host
            self.hosts[host] += 1
            out.append(row)
        for host in {r.get("host") for r in rows} - set(self.hosts):
            if host:
                leases.release_host(store, self.id, host)
        return out

    def claim_again_in(self) -> float:
        """Seconds until a claim that was put off may run (infinity when none was)."""
        return max(0.0, self._again)

    def done(self, store: Any, url: str) -> None:
        """A claimed feed's poll ended (saved, failed or cancelled): its lease, maybe its host, go back
        with the next claim (in the claim's own statement on PostgreSQL, for all that ended since).

        Until then the feed is leased but not due (its next poll time is saved), so nobody waits
        for it; a host is given back at most CLAIM_SECONDS late (IDLE_CLAIM_SECONDS when idle)."""
        host = self.claimed.pop(url, None)
        self.polls += 1
        self._finished.append(url)
        if host is not None:
            self.hosts[host] -= 1
            if self.hosts[host] <= 0:
                del self.hosts[host]
                self._idle_hosts.add(host)
                self._released = True

    def _to_give_back(self) -> tuple[list[str], list[str]]:
        """The feeds polled since the last call, and the hosts we no longer poll (taken off the lists)."""
        urls, self._finished = self._finished, []
        hosts = sorted(h for h in self._idle_hosts if h not in self.hosts)
        self._idle_hosts = set()
        return urls, hosts

    def forget(self, store: Any, url: str) -> None:
        """A claimed feed whose job did not start (daemon stopping): give it back unpolled."""
        self.polls -= 1
        self.done(store, url)

    # -- singleton jobs -------------------------------------------------------------
    def lease(self, store: Any, name: str) -> bool:
        return leases.try_lease(store, name, self.id, self.settings.lease_seconds)

    def release(self, store: Any, name: str) -> None:
        leases.release_lease(store, name, self.id)

    @asynccontextmanager
    async def singleton(self, store: Any, name: str) -> AsyncIterator[bool]:
        """`async with worker.singleton(store, "housekeeping") as mine:` run only where `mine`."""
        mine = self.lease(store, name)
        try:
            yield mine
        finally:
            if mine:
                self.release(store, name)

    # -- the shared story index -----------------------------------------------------
    def story_turn(self) -> asyncio.Lock:
        """The in-process queue for the story lock: one feed job of this worker at a time asks the
        database for it (the others wait here, costing no round trips)."""
        if self._story_turn is None:
            self._story_turn = asyncio.Lock()
        return self._story_turn

    def begin_stories(self, store: Any, index: Any, then: Callable[[str], Any] | None = None) -> bool:
        """First thing in the feed's transaction: the story lock (PostgreSQL; held to commit) and
        what other workers saved since, in one round trip. False: another worker holds the lock.
        `then(guard)`: writes sent in the same round trip, done only under the lock
        (`storyindex.lock_and_rows_after`); not called without a story index."""
        if index is None:
            return True
        locked, rows = storyindex.lock_and_rows_after(store, self.story_seq, then)
        if rows:
            index.load(rows)
            self.story_seq = max(self.story_seq, max(int(r["seq"]) for r in rows))
        return locked


def unleased(store: Any, feeds: list[dict]) -> list[dict]:
    """The feeds no worker holds a live lease on (`poll --once` beside running workers)."""
    if not any(f.get("claimed_by") for f in feeds):
        return feeds
    gone = set(free_dead_workers(store))
    now = leases.Sql(store).now()
    return [f for f in feeds if not f.get("claimed_by") or f["claimed_by"] in gone
            or (f.get("lease_until") or 0) < now]


def story_locked(store: Any, needed: bool) -> bool:
    """First thing in the feed's transaction: the story lock, held to commit (or not needed).
    (Without a worker; a worker takes it with `Worker.begin_stories`.)"""
    return not needed or storyindex.try_lock(store)


def save_stories(worker: Any, store: Any, assignments: list, rows_written: Collection[str] = ()) -> int:
    """Inside the transaction: save the decided signatures numbered after the last one this
    worker knows; returns the last number. `rows_written`: articles whose rows carry their story
    columns already (`Store.story_rows`).

    The caller sets `worker.story_seq` to it after commit (a rolled-back save must not move it)."""
    last = store.save_story_signatures(assignments, seq_base=storyindex.seq_base(worker, store) if assignments
                                       else None, rows_written=rows_written)
    if last is not None:
        return last
    return worker.story_seq if worker is not None else 0
