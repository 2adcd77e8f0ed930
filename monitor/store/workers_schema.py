"""The schema of claimed work: workers, leases, per-host leases, the story log's order.

Owns the migrations of issue 19's part B, written once in DDL that SQLite and PostgreSQL
both accept (TEXT, BIGINT, DOUBLE PRECISION: SQLite gives them its own affinities), so
each backend appends the same scripts to its own append-only history (SQLite:
`schema.MIGRATIONS`, versions 10 and up). Times of leases and heartbeats are seconds
since the epoch (DOUBLE PRECISION) taken from the database's clock on PostgreSQL, so
workers on several machines compare one clock. Must not hold queries (leases.py,
storyindex.py do).
"""

from __future__ import annotations

WORKER_MIGRATIONS: list[str] = [
    # workers and leases: a feed is polled by the worker that claimed it (claimed_by) until
    # its lease runs out (lease_until); a host is polled by one worker at a time (host_leases,
    # so the per-host limit holds across workers); a singleton job (a channel's deliveries,
    # housekeeping, notices) runs where its lease is held (leases)
    """
    ALTER TABLE feeds ADD COLUMN claimed_by TEXT;
    ALTER TABLE feeds ADD COLUMN lease_until DOUBLE PRECISION;
    ALTER TABLE feeds ADD COLUMN host TEXT;
    CREATE INDEX feeds_host ON feeds(host);
    CREATE TABLE workers (
        id TEXT PRIMARY KEY, hostname TEXT NOT NULL DEFAULT '', pid BIGINT NOT NULL DEFAULT 0,
        started DOUBLE PRECISION NOT NULL, heartbeat DOUBLE PRECISION NOT NULL,
        state TEXT NOT NULL DEFAULT 'running', backend TEXT NOT NULL DEFAULT '',
        polls BIGINT NOT NULL DEFAULT 0
    );
    CREATE TABLE leases (
        name TEXT PRIMARY KEY, claimed_by TEXT, lease_until DOUBLE PRECISION NOT NULL DEFAULT 0
    );
    CREATE TABLE host_leases (
        host TEXT PRIMARY KEY, claimed_by TEXT, lease_until DOUBLE PRECISION NOT NULL DEFAULT 0
    )
    """,
    # the story log's order: every saved signature gets the next number (under the story lock),
    # so a worker catches its story index up with what the others saved since it last looked
    """
    ALTER TABLE story_signatures ADD COLUMN seq BIGINT;
    CREATE INDEX story_signatures_seq ON story_signatures(seq)
    """,
]
