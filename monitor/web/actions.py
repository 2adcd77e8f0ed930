"""The state changes the web interface makes: retry a delivery, mute, snooze, "not relevant".

Owns the few writes an analyst can make from a page, each one short transaction on its
own connection (monitor.web.db.writing). Mutes never delete anything: a mute is a row
with an end time, and the outbox rows it covers are held back by the store's
MUTED_SQL (then marked 'muted' by Store.hold_muted). Must not render or send.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

VERDICTS = ("not_relevant",)
MAX_MUTE_HOURS = 24 * 365


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


def retry_delivery(conn: sqlite3.Connection, delivery_id: str) -> bool:
    """Make a failed or retrying delivery due now (the daemon's next digest run sends it).

    A failed delivery gets one more attempt: its outbox rows are claimed by it again.
    False when there is no such delivery or it was already sent.
    """
    now = _iso(_now())
    cur = conn.execute("UPDATE deliveries SET status = 'pending', next_attempt = ? "
                       "WHERE id = ? AND status IN ('pending', 'failed')", [now, delivery_id])
    if not cur.rowcount:
        return False
    conn.execute("UPDATE outbox SET status = 'pending' WHERE delivery_id = ? AND status = 'failed'", [delivery_id])
    return True


def mute(conn: sqlite3.Connection, kind: str, key: str, hours: float, note: str = "") -> str:
    """Mute a story or snooze a rule for `hours` (0 ends an active mute); returns the end time."""
    if kind not in ("story", "rule"):
        raise ValueError(f"cannot mute a {kind!r}")
    if not 0 <= hours <= MAX_MUTE_HOURS:
        raise ValueError(f"a mute lasts between 0 and {MAX_MUTE_HOURS} hours")
    now = _now()
    until = _iso(now + timedelta(hours=hours))
    if hours == 0:
        # times have whole seconds: what was queued up to this second stays held, the next is sent
        end = _iso(now.replace(microsecond=0) + timedelta(seconds=1))
        conn.execute("UPDATE mutes SET until = ? WHERE kind = ? AND key = ? AND until > ?",
                     [end, kind, key, end])
        return end
    conn.execute("INSERT INTO mutes (kind, key, created, until, note) VALUES (?, ?, ?, ?, ?)",
                 [kind, key, _iso(now), until, note[:200]])
    return until


def set_feedback(conn: sqlite3.Connection, article_id: int, rule: str, verdict: str | None) -> None:
    """Mark (or, with None, unmark) one match as judged by an analyst; the match itself stays."""
    if verdict is None:
        conn.execute("DELETE FROM feedback WHERE article_id = ? AND rule = ?", [article_id, rule])
        return
    if verdict not in VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r}")
    conn.execute("INSERT INTO feedback VALUES (?, ?, ?, ?) ON CONFLICT(article_id, rule) DO UPDATE SET "
                 "verdict = excluded.verdict, created = excluded.created", [article_id, rule, verdict, _iso(_now())])


def rejected(conn: sqlite3.Connection, rule: str | None = None) -> dict[int, set[str]]:
    """Article id -> rules an analyst marked "not relevant" on it (for the tester and backtest)."""
    sql = "SELECT article_id, rule FROM feedback WHERE verdict = 'not_relevant'"
    params: list[str] = []
    if rule:
        sql += " AND rule = ?"
        params.append(rule)
    out: dict[int, set[str]] = {}
    for art, r in conn.execute(sql, params):
        out.setdefault(art, set()).add(r)
    return out
