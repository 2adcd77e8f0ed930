"""Many workers on one PostgreSQL database end where one SQLite daemon ends, even when killed.

The same farm run (seeded, with faulty feeds: 500s, a malformed feed, a 301, a 410, a feed
without validators) goes through one SQLite daemon, one PostgreSQL worker and three
PostgreSQL workers, each a separate `monitor run --worker-id` process with its own config
file (as on separate machines), delivering to a webhook receiver on 127.0.0.1. Between
rounds the farm publishes more and every feed is made due again. Compared: the stored
articles, the partition of articles into stories, the set of (article, rule, channel)
delivered; and from the farm, requests per feed: each feed polled once per due time.
The kill drill SIGKILLs one of three workers at random moments, five times (a new worker
replaces it under a new id): nothing lost, nothing re-sent beyond the send-then-crash window
(counted per Idempotency-Key), the dead worker's leases taken over within their length.
Each run has a PostgreSQL database of its own (tests/workers_drill.py).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.farm import Farm
from tests.workers_drill import Drill, Hook, State, feed_requests

FAULTS = ["--fault", "3=error500", "--fault", "7=malformed", "--fault", "11=moved301", "--fault", "15=gone410",
          "--fault", "19=no-validators"]
LEASE = 6.0


@dataclass
class Outcome:
    articles: set[str]
    stories: set[frozenset[str]]
    delivered: set[tuple[str, str, str]]
    resends: int
    requests: dict[str, int]
    recovery: list[float]
    extra_polls_allowed: int


def farm_run(tmp: Path, kind: str, workers: int, *, feeds: int = 24, rounds: int = 2, kills: int = 0,
             seed: int = 19) -> Outcome:
    """The farm run through `workers` processes on a `kind` state; see the module docstring."""
    args = ["--feeds", str(feeds), "--items", "6", "--hosts", "4", "--seed", str(seed), *FAULTS]
    rng = random.Random(seed)
    recovery: list[float] = []
    extra = 0
    with Farm(*args) as farm, State(kind, tmp) as state:
        hook = Hook()
        drill = Drill(tmp, state, farm.feed_urls(), hook, lease=LEASE, full_text=True)
        try:
            for i in range(workers):
                drill.start(f"w{i + 1}")
            killed = 0
            for r in range(rounds):
                if r:
                    farm.advance(1)
                    drill.all_due()
                if kills:
                    while killed < kills * (r + 1) // rounds:
                        time.sleep(rng.uniform(0.3, 2.5))          # a random moment of the round
                        victim = rng.choice(sorted(drill.procs))
                        held = drill.leases_of(victim)
                        drill.kill(victim)
                        extra += len(held)
                        recovery.append(_taken_over(drill, victim, held))
                        killed += 1
                        drill.start(f"{victim.split('-')[0]}-{killed}")     # a replacement, new id
                drill.wait_done()
            drill.stop()
            drill.flush()
        finally:
            for name in list(drill.procs):
                drill.kill(name)
            hook.close()
        return Outcome(drill.articles(), drill.stories(), hook.triples(), hook.resends(), dict(feed_requests(farm)),
                       recovery, extra)


def _taken_over(drill: Drill, victim: str, held: list[tuple]) -> float:
    """Seconds until no feed is left leased by the dead worker (run out and claimed by another)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < LEASE * 4:
        if not drill.leases_of(victim):
            return time.monotonic() - t0
        time.sleep(0.2)
    return time.monotonic() - t0


def assert_same(got: Outcome, ref: Outcome, what: str) -> None:
    assert got.articles == ref.articles, f"{what}: articles differ"
    assert got.stories == ref.stories, f"{what}: stories differ"
    assert got.delivered == ref.delivered, f"{what}: deliveries differ"


def assert_once_per_due_time(o: Outcome, rounds: int, what: str) -> None:
    """A healthy feed got exactly one request per round; the faulty ones as in the reference."""
    healthy = {k: v for k, v in o.requests.items() if int(k) not in (3, 7, 11, 15, 19)}
    assert healthy and set(healthy.values()) == {rounds}, f"{what}: {sorted(healthy.items())}"


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Outcome:
    o = farm_run(tmp_path_factory.mktemp("sqlite"), "sqlite", 1)
    assert o.articles and o.delivered and o.resends == 0
    assert_once_per_due_time(o, 2, "sqlite")
    assert len(o.stories) < len(o.articles)         # syndicated copies were grouped
    return o


def test_three_postgresql_workers_end_like_one_sqlite_daemon(reference, tmp_path):
    o = farm_run(tmp_path, "postgresql", 3)
    assert_same(o, reference, "3 PostgreSQL workers")
    assert o.resends == 0
    assert_once_per_due_time(o, 2, "3 PostgreSQL workers")
    assert o.requests == reference.requests


@pytest.mark.slow
def test_one_postgresql_worker_ends_like_one_sqlite_daemon(reference, tmp_path):
    o = farm_run(tmp_path, "postgresql", 1)
    assert_same(o, reference, "1 PostgreSQL worker")
    assert o.resends == 0 and o.requests == reference.requests


@pytest.mark.slow
def test_sigkill_one_of_three_workers_five_times(reference, tmp_path):
    o = farm_run(tmp_path, "postgresql", 3, kills=5)
    assert_same(o, reference, "3 workers, 5 SIGKILLs")
    assert o.resends <= 5, f"{o.resends} messages re-sent after 5 kills"
    assert len(o.recovery) == 5 and max(o.recovery) <= LEASE + 3, o.recovery
    for feed, n in o.requests.items():          # polled once per due time, plus what a kill cut short
        assert n >= reference.requests[feed], feed
    assert sum(o.requests.values()) - sum(reference.requests.values()) <= o.extra_polls_allowed
