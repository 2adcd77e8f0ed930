"""The shared story index in the database: its order, its lock, what others saved since.

Owns the SQL that makes `story_signatures` (the MinHash signature, its LSH band keys'
source, and the related level's event-term hashes of every article in the story window)
the one truth every worker groups against: each saved signature gets the next number
(`seq`), a worker catches its in-memory index up with the rows numbered after the last
one it knows, and the step "catch up, decide, save" runs under one story lock so two
workers never decide against different windows. On PostgreSQL the lock is a transaction
advisory lock (`pg_try_advisory_xact_lock`, first thing in the feed's transaction, held to
its commit; when busy the caller ends the empty transaction and tries again after a few
milliseconds, so its event loop never blocks on it); on SQLite the one daemon's write
transaction is the lock. Must not decide stories (stories/index.py) nor hold the catch-up policy
(daemon/workers.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from monitor.store.leases import Sql

STORY_LOCK = 0x6D6F6E53      # "monS": the advisory lock key of the story index


def max_seq(store: Any) -> int:
    """The number of the latest saved signature (0 when none is numbered)."""
    row = Sql(store).q("SELECT max(seq) FROM story_signatures").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def rows_after(store: Any, seq: int) -> list[dict]:
    """Signature rows numbered after `seq`, in order: what other workers saved since."""
    return _rows(Sql(store).q("SELECT * FROM story_signatures WHERE seq > ? ORDER BY seq", [seq]))


def lock_and_rows_after(store: Any, seq: int, then: Callable[[str], Any] | None = None) -> tuple[bool, list[dict]]:
    """Inside a transaction: `try_lock`, and when taken `rows_after(seq)`, in one round trip.

    PostgreSQL evaluates the lock once (a materialised CTE) and joins the rows only when it
    was taken; (False, []) when another worker holds it. SQLite: its write transaction is the lock.
    `then(guard)` queues statements that go out in the same round trip, after the lock's: `guard`
    is an SQL condition true only while this transaction holds the lock (PostgreSQL: the lock asked
    again, which a holder is granted at once), for writes that must not happen without it (a
    worker that finds the lock busy then writes nothing, rather than writing and rolling back)."""
    db = Sql(store)
    if not db.pg:
        if then is not None:
            then("1")
        return True, rows_after(store, seq)
    sql = ("WITH l AS MATERIALIZED (SELECT pg_try_advisory_xact_lock(?) AS story_locked) "
           "SELECT l.story_locked, s.* FROM l LEFT JOIN story_signatures s ON l.story_locked AND s.seq > ? "
           "ORDER BY s.seq")
    if then is None:
        cur = db.q(sql, [STORY_LOCK, seq])
    else:
        cur = store.db.execute_then(sql, [STORY_LOCK, seq], lambda: then(f"pg_try_advisory_xact_lock({STORY_LOCK})"))
    rows = _rows(cur)
    if not rows or not rows[0].pop("story_locked"):
        return False, []
    for r in rows[1:]:
        r.pop("story_locked", None)
    return True, [r for r in rows if r.get("article_url") is not None]


def copy_candidates(store: Any, bands: Sequence[int], since: str | None = None) -> list[dict]:
    """PostgreSQL: the stored signatures sharing at least one LSH band key with `bands` (published
    at or after the ISO time `since`), through the GIN index on `story_signatures.bands`: the
    copy level's candidates as the database holds them, whatever a worker's cache has loaded.
    Scoring them is the caller's (`StoryIndex` estimates the Jaccard from the signatures).
    SQLite keeps no band keys (its in-memory index is the band index): asking there is an error."""
    db = Sql(store)
    if not db.pg:
        raise ValueError("band keys are indexed in PostgreSQL only; on SQLite the in-memory story index has them")
    if not bands:
        return []
    window = " AND published >= ?" if since else ""
    return _rows(db.q("SELECT * FROM story_signatures WHERE bands && ?::bigint[]" + window + " ORDER BY seq",
                      [list(bands), *([since] if since else [])]))


def _rows(cur: Any) -> list[dict]:
    cols = [c[0] for c in cur.description]
    out = []
    for r in cur.fetchall():
        row = dict(zip(cols, r))
        for k in ("minhash", "terms"):      # bytea comes back as memoryview on PostgreSQL
            if isinstance(row.get(k), memoryview):
                row[k] = bytes(row[k])
        out.append(row)
    return out


def seq_base(worker: Any, store: Any) -> int:
    """The number after which this feed's signatures are numbered (`save_story_signatures(seq_base=)`):
    under the story lock a worker has caught up with every saved row (daemon/workers.py), so the
    last number it knows is the log's last; without a worker, the stored maximum."""
    return int(worker.story_seq) if worker is not None else max_seq(store)


def number(store: Any, article_urls: Iterable[str]) -> int:
    """Give these just-saved signatures the next numbers (under the story lock); returns the last.

    Two statements for a whole batch (one round trip each on PostgreSQL), not one per row."""
    urls = list(dict.fromkeys(article_urls))
    base = max_seq(store)
    if not urls:
        return base
    cases = " ".join("WHEN ? THEN ?" for _ in urls)
    params: list[Any] = [v for i, u in enumerate(urls, start=1) for v in (u, base + i)]
    Sql(store).q(f"UPDATE story_signatures SET seq = CASE article_url {cases} END "
                 f"WHERE article_url IN ({','.join('?' * len(urls))})", [*params, *urls])
    return base + len(urls)


def try_lock(store: Any) -> bool:
    """Inside a transaction: take the story lock until its end if free (PostgreSQL); SQLite's
    write transaction is exclusive already."""
    db = Sql(store)
    if not db.pg:
        return True
    return bool(db.q("SELECT pg_try_advisory_xact_lock(?)", [STORY_LOCK]).fetchone()[0])
