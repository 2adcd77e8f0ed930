"""Claimed work: workers, feed leases, per-host leases and named leases, on either backend.

Owns the SQL of the `workers`, `leases` and `host_leases` tables and of `feeds.claimed_by` /
`feeds.lease_until` / `feeds.host` (workers_schema.py). A worker claims due feeds host by
host: it takes the lease of a host that has due feeds and that nobody else holds (on
PostgreSQL with `SELECT ... FOR UPDATE SKIP LOCKED`, so two workers never wait on, nor
take, the same host; on SQLite the write transaction serialises claims), then leases that
host's due feeds. One worker per host at a time keeps `fetch.per_host` true across workers.
A lease runs out at `lease_until` (seconds since the epoch, from the database's clock on
PostgreSQL): a live worker extends its leases with each heartbeat, a dead one's run out and
its hosts and feeds are claimed by the others. Named leases (`deliver:<channel>`,
`housekeeping`) make one worker run a singleton job. Must not decide when to claim
(daemon/workers.py) nor poll.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from monitor.store.retry import retried

DUE = "f.state = 'active' AND (f.next_poll = '' OR f.next_poll <= ?)"
FREE = "(f.claimed_by IS NULL OR f.lease_until IS NULL OR f.lease_until < ?)"


class Sql:
    """The one place the two dialects differ for this module: locking and the clock.

    `store.db.execute` takes `?` placeholders on both backends (the PostgreSQL store translates)."""

    def __init__(self, store: Any):
        self.store = store
        self.pg = getattr(store, "dialect", "sqlite") == "postgresql"

    def q(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.store.db.execute(sql, list(params))

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return list(self.q(sql, params).fetchall())

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement for many rows: the store's batch (one pipelined round trip on PostgreSQL)."""
        batch = getattr(self.store, "_many", None)
        if batch is not None:
            batch(sql, rows)
            return
        for r in rows:
            self.q(sql, r)

    def now(self) -> float:
        """Seconds since the epoch: the database's clock on PostgreSQL (one clock for all machines)."""
        if self.pg:
            return float(self.q("SELECT extract(epoch from clock_timestamp())").fetchone()[0])
        return time.time()


def marks(n: int) -> str:
    return ",".join("?" * n)


# -- workers ---------------------------------------------------------------------------
@retried
def register_worker(store: Any, worker_id: str, hostname: str, pid: int, backend: str) -> float:
    """Record a worker as running (a restart under the same id takes its row over)."""
    db = Sql(store)
    with store.transaction():
        now = db.now()
        db.q("INSERT INTO workers (id, hostname, pid, started, heartbeat, state, backend, polls) "
             "VALUES (?,?,?,?,?,'running',?,0) ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, "
             "pid = excluded.pid, started = excluded.started, heartbeat = excluded.heartbeat, "
             "state = 'running', backend = excluded.backend, polls = 0",
             [worker_id, hostname, pid, now, now, backend])
        # what an earlier process under this id held is not being worked on any more
        _release_all(db, worker_id)
    return now


@retried
def heartbeat(store: Any, worker_id: str, lease_seconds: float, polls: int = 0) -> float:
    """The worker is alive: its heartbeat now, every lease it holds extended by lease_seconds."""
    db = Sql(store)
    with store.transaction():
        now = db.now()
        until = now + lease_seconds
        db.q("UPDATE workers SET heartbeat = ?, polls = ?, state = 'running' WHERE id = ?", [now, polls, worker_id])
        db.q("UPDATE feeds SET lease_until = ? WHERE claimed_by = ? AND lease_until >= ?", [until, worker_id, now])
        db.q("UPDATE host_leases SET lease_until = ? WHERE claimed_by = ? AND lease_until >= ?",
             [until, worker_id, now])
        db.q("UPDATE leases SET lease_until = ? WHERE claimed_by = ? AND lease_until >= ?", [until, worker_id, now])
    return now


@retried
def stop_worker(store: Any, worker_id: str) -> None:
    """A clean stop: every lease given back at once (nobody waits for them to run out)."""
    db = Sql(store)
    with store.transaction():
        _release_all(db, worker_id)
        db.q("UPDATE workers SET state = 'stopped', heartbeat = ? WHERE id = ?", [db.now(), worker_id])


def workers_on(store: Any, hostname: str) -> list[tuple[str, int]]:
    """(id, pid) of every worker recorded as running on this machine."""
    return [(str(i), int(p)) for i, p in Sql(store).all(
        "SELECT id, pid FROM workers WHERE hostname = ? AND state = 'running'", [hostname])]


@retried
def release_dead(store: Any, worker_ids: Iterable[str]) -> None:
    """Workers known to be gone (their process no longer exists): their leases free now, not
    when they run out, and their rows marked `dead`. A daemon killed with SIGKILL and
    restarted under a new pid must not wait a whole lease for its own feeds."""
    ids = list(worker_ids)
    if not ids:
        return
    db = Sql(store)
    with store.transaction():
        for worker_id in ids:
            _release_all(db, worker_id)
            db.q("UPDATE workers SET state = 'dead' WHERE id = ? AND state = 'running'", [worker_id])


def _release_all(db: Sql, worker_id: str) -> None:
    db.q("UPDATE feeds SET claimed_by = NULL, lease_until = NULL WHERE claimed_by = ?", [worker_id])
    db.q("UPDATE host_leases SET claimed_by = NULL, lease_until = 0 WHERE claimed_by = ?", [worker_id])
    db.q("UPDATE leases SET claimed_by = NULL, lease_until = 0 WHERE claimed_by = ?", [worker_id])


# -- feeds and hosts -------------------------------------------------------------------
def host_of(url: str) -> str:
    """The key of the per-host limit (ingest/fetch.py): the lower-cased host name."""
    return (urlsplit(url).hostname or "").lower()


@retried
def fill_hosts(store: Any) -> int:
    """Give feeds without one their host (new, or moved), and every host its lease row."""
    db = Sql(store)
    rows = db.all("SELECT url FROM feeds WHERE host IS NULL")
    if not rows:
        return 0
    with store.transaction():
        db.many("UPDATE feeds SET host = ? WHERE url = ?", [[host_of(url), url] for (url,) in rows])
        db.many("INSERT INTO host_leases (host, claimed_by, lease_until) VALUES (?, NULL, 0) "
                "ON CONFLICT (host) DO NOTHING", [[h] for h in sorted({host_of(u) for (u,) in rows})])
    return len(rows)


@retried
def claim_feeds(store: Any, worker_id: str, now_iso: str, lease_seconds: float, more_hosts: int,
                exclude: Iterable[str] = (), limit: int | None = None, *,
                release_urls: Sequence[str] = (), release_hosts: Sequence[str] = ()) -> list[dict]:
    """Lease due feeds: those of hosts this worker holds, and of up to `more_hosts` free hosts.

    Returns the claimed feed rows (as `Store.feeds()` gives them), oldest due first (then by URL,
    the same order on both backends). A feed
    being polled (leased and not run out) is never returned, to this worker or another.
    `now_iso` is the poll clock (next_poll is ISO text); leases use the database's clock.
    `release_urls`, `release_hosts`: leases given back in the same go (`release_polled`: feeds
    whose polls ended, hosts with none of this worker's polls left); none of them is claimed
    again by this call (a host given back is another worker's to take first).

    On PostgreSQL the whole claim, with what it gives back, is one statement (one round trip):
    see `_claim_pg`.
    """
    db = Sql(store)
    if db.pg:
        return _claim_pg(db, worker_id, now_iso, lease_seconds, more_hosts, exclude, limit,
                         release_urls, release_hosts)
    excluded = list(dict.fromkeys([*exclude, *release_urls]))
    gone = set(release_hosts)
    not_excluded = f" AND f.url NOT IN ({marks(len(excluded))})" if excluded else ""
    with store.transaction():
        if release_urls or release_hosts:
            release_polled(store, worker_id, release_urls, release_hosts)
        now = db.now()
        until = now + lease_seconds
        held = [h for (h,) in db.all("SELECT host FROM host_leases WHERE claimed_by = ? AND lease_until >= ?",
                                     [worker_id, now]) if h not in gone]
        fresh: list[str] = []
        if more_hosts > 0:
            # hosts with a due, unleased feed, nobody's (or whose holder's lease ran out), oldest due first
            fresh = [h for (h,) in db.all(
                "SELECT h.host FROM host_leases h WHERE (h.claimed_by IS NULL OR h.lease_until < ?) "
                "AND EXISTS (SELECT 1 FROM feeds f WHERE f.host = h.host AND " + DUE + " AND " + FREE
                + not_excluded + ") ORDER BY (SELECT min(f.next_poll) FROM feeds f WHERE f.host = h.host AND "
                + DUE + "), h.host LIMIT ?",
                [now, now_iso, now, *excluded, now_iso, more_hosts + len(gone)]) if h not in gone][:more_hosts]
            if fresh:
                db.q(f"UPDATE host_leases SET claimed_by = ?, lease_until = ? WHERE host IN ({marks(len(fresh))})",
                     [worker_id, until, *fresh])
        hosts = held + fresh
        if not hosts:
            return []
        cap = f" LIMIT {int(limit)}" if limit else ""
        urls = [u for (u,) in db.all(
            f"SELECT f.url FROM feeds f WHERE f.host IN ({marks(len(hosts))}) AND " + DUE + " AND " + FREE
            + not_excluded + " ORDER BY f.next_poll, f.url" + cap,
            [*hosts, now_iso, now, *excluded])]
        if not urls:
            return []
        db.q(f"UPDATE feeds SET claimed_by = ?, lease_until = ? WHERE url IN ({marks(len(urls))})",
             [worker_id, until, *urls])
        return _feed_rows(db, urls)


# PostgreSQL: the claim in one statement. Each CTE runs once, on one snapshot; the data-modifying ones
# run whether or not the query reads them. `n`: the database's clock, read once. `rel_f`, `rel_h`: the
# leases given back. `held`: hosts this worker holds (less those given back). `fresh`: free hosts with a
# due, unleased feed, oldest due first, locked with SKIP LOCKED (a host another worker is claiming right
# now is passed over, not waited for; a row another worker changed since the snapshot is re-checked
# against the condition, so a host taken meanwhile is not taken twice). `took`: their leases. `picked`:
# the due, unleased feeds of those hosts, locked the same way; the final UPDATE leases them and returns
# their rows. No row is changed twice: given-back feeds and hosts are left out of `picked`, `held` and
# `fresh`. Arrays (`= ANY`, `<> ALL`) keep the text the same for any number of feeds, so psycopg
# prepares it once.
_CLAIM_PG = """
WITH n AS MATERIALIZED (SELECT extract(epoch from clock_timestamp())::float8 AS t),
rel_f AS (UPDATE feeds SET claimed_by = NULL, lease_until = NULL
          WHERE claimed_by = %(w)s AND (url = ANY(%(rel_urls)s) OR moved_from = ANY(%(rel_urls)s)) RETURNING 1),
rel_h AS (UPDATE host_leases SET claimed_by = NULL, lease_until = 0
          WHERE claimed_by = %(w)s AND host = ANY(%(rel_hosts)s) RETURNING 1),
held AS (SELECT h.host FROM host_leases h, n WHERE h.claimed_by = %(w)s AND h.lease_until >= n.t
         AND h.host <> ALL(%(rel_hosts)s)),
fresh AS (SELECT h.host FROM host_leases h, n WHERE (h.claimed_by IS NULL OR h.lease_until < n.t)
          AND h.host <> ALL(%(rel_hosts)s)
          AND EXISTS (SELECT 1 FROM feeds f WHERE f.host = h.host AND f.state = 'active'
                      AND (f.next_poll = '' OR f.next_poll <= %(due)s)
                      AND (f.claimed_by IS NULL OR f.lease_until IS NULL OR f.lease_until < n.t)
                      AND f.url <> ALL(%(skip)s))
          ORDER BY (SELECT min(f.next_poll) FROM feeds f WHERE f.host = h.host AND f.state = 'active'
                    AND (f.next_poll = '' OR f.next_poll <= %(due)s)), h.host
          LIMIT %(more)s FOR UPDATE OF h SKIP LOCKED),
took AS (UPDATE host_leases h SET claimed_by = %(w)s, lease_until = n.t + %(lease)s FROM fresh, n
         WHERE h.host = fresh.host RETURNING h.host),
picked AS (SELECT f.url FROM feeds f, n
           WHERE f.host IN (SELECT host FROM held UNION ALL SELECT host FROM took)
           AND f.state = 'active' AND (f.next_poll = '' OR f.next_poll <= %(due)s)
           AND (f.claimed_by IS NULL OR f.lease_until IS NULL OR f.lease_until < n.t)
           AND f.url <> ALL(%(skip)s)
           ORDER BY f.next_poll, f.url LIMIT %(cap)s FOR UPDATE OF f SKIP LOCKED),
leased AS (UPDATE feeds f SET claimed_by = %(w)s, lease_until = n.t + %(lease)s FROM picked, n
           WHERE f.url = picked.url RETURNING f.*)
SELECT * FROM leased ORDER BY next_poll, url
"""


def _claim_pg(db: Sql, worker_id: str, now_iso: str, lease_seconds: float, more_hosts: int,
              exclude: Iterable[str], limit: int | None, release_urls: Sequence[str],
              release_hosts: Sequence[str]) -> list[dict]:
    rel_urls = list(dict.fromkeys(release_urls))
    params = {"w": worker_id, "due": now_iso, "lease": float(lease_seconds), "more": max(0, int(more_hosts)),
              "cap": int(limit) if limit else None, "skip": list(dict.fromkeys([*exclude, *rel_urls])),
              "rel_urls": rel_urls, "rel_hosts": list(dict.fromkeys(release_hosts))}
    return _rows_of(db.store.db.raw(_CLAIM_PG, params))


def _feed_rows(db: Sql, urls: list[str]) -> list[dict]:
    return _rows_of(db.q(f"SELECT * FROM feeds WHERE url IN ({marks(len(urls))}) ORDER BY next_poll, url", urls))


def _rows_of(cur: Any) -> list[dict]:
    cols = [c[0] for c in cur.description]
    out = []
    for r in cur.fetchall():
        row = dict(zip(cols, r))
        if isinstance(row.get("tags"), str):
            row["tags"] = json.loads(row["tags"])
        out.append(row)
    return out


def release_feed(store: Any, worker_id: str, url: str) -> None:
    """The poll finished (its next_poll is saved): the feed's lease is given back."""
    Sql(store).q("UPDATE feeds SET claimed_by = NULL, lease_until = NULL WHERE claimed_by = ? "
                 "AND (url = ? OR moved_from = ?)", [worker_id, url, url])


@retried
def release_polled(store: Any, worker_id: str, urls: Sequence[str], hosts: Sequence[str]) -> None:
    """Give back, in a statement or two, the leases of feeds whose polls ended and of hosts with
    none of this worker's polls left (a feed that moved is released by its old URL too)."""
    db = Sql(store)
    urls = list(dict.fromkeys(urls))
    for chunk in (urls[k:k + 500] for k in range(0, len(urls), 500)):
        db.q(f"UPDATE feeds SET claimed_by = NULL, lease_until = NULL WHERE claimed_by = ? "
             f"AND (url IN ({marks(len(chunk))}) OR moved_from IN ({marks(len(chunk))}))",
             [worker_id, *chunk, *chunk])
    for chunk in (list(hosts)[k:k + 500] for k in range(0, len(hosts), 500)):
        db.q(f"UPDATE host_leases SET claimed_by = NULL, lease_until = 0 WHERE claimed_by = ? "
             f"AND host IN ({marks(len(chunk))})", [worker_id, *chunk])


def release_host(store: Any, worker_id: str, host: str) -> None:
    """None of this worker's polls on the host is running: another worker may take it."""
    Sql(store).q("UPDATE host_leases SET claimed_by = NULL, lease_until = 0 WHERE host = ? AND claimed_by = ?",
                 [host, worker_id])


# -- named leases ------------------------------------------------------------------------
@retried
def try_lease(store: Any, name: str, worker_id: str, lease_seconds: float) -> bool:
    """Take (or keep) the named lease if it is free, run out, or already this worker's."""
    db = Sql(store)
    with store.transaction():
        now = db.now()
        row = db.q("INSERT INTO leases (name, claimed_by, lease_until) VALUES (?, ?, ?) "
                   "ON CONFLICT (name) DO UPDATE SET claimed_by = excluded.claimed_by, "
                   "lease_until = excluded.lease_until WHERE leases.claimed_by IS NULL "
                   "OR leases.lease_until < ? OR leases.claimed_by = ? RETURNING name",
                   [name, worker_id, now + lease_seconds, now, worker_id]).fetchone()
    return row is not None


def release_lease(store: Any, name: str, worker_id: str) -> None:
    Sql(store).q("UPDATE leases SET claimed_by = NULL, lease_until = 0 WHERE name = ? AND claimed_by = ?",
                 [name, worker_id])


def _held(db: Sql, table: str, worker_id: str, now: float) -> int:
    return int(db.q(f"SELECT count(*) FROM {table} WHERE claimed_by = ? AND lease_until >= ?",
                    [worker_id, now]).fetchone()[0])


# -- reporting ---------------------------------------------------------------------------
def workers_report(store: Any, lease_seconds: float = 60.0) -> list[dict]:
    """Every known worker with its heartbeat's age and the leases it holds (for `monitor status`).

    A running worker whose heartbeat is older than its lease counts as not alive; stopped
    workers seen over a day ago are left out."""
    db = Sql(store)
    now = db.now()
    out = []
    for wid, hostname, pid, started, beat, state, backend, polls in db.all(
            "SELECT id, hostname, pid, started, heartbeat, state, backend, polls FROM workers "
            "WHERE state = 'running' OR heartbeat > ? ORDER BY id", [now - 86400]):
        out.append({"id": wid, "hostname": hostname, "pid": pid, "state": state, "backend": backend,
                    "alive": state == "running" and now - beat <= max(lease_seconds, 1.0),
                    "started": started, "heartbeat_age_seconds": round(now - beat, 1), "polls": polls,
                    "feeds_leased": _held(db, "feeds", wid, now), "hosts_leased": _held(db, "host_leases", wid, now),
                    "leases": [n for (n,) in db.all("SELECT name FROM leases WHERE claimed_by = ? "
                                                    "AND lease_until >= ? ORDER BY name", [wid, now])]})
    return out
