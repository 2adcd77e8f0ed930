"""The web interface's read queries: matches by story, stories, articles, rules, feeds, channels.

Owns every SELECT the pages and `monitor matches` run, each taking an open connection
(monitor.web.db) and returning plain dicts. Written for the indexes of migration 8
(checked with EXPLAIN QUERY PLAN in bench/web.py): every list is bounded by LIMIT and
filtered on an indexed column first. Must not write, render or match.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.web.db import is_postgres, one, rows

STORY = "COALESCE(a.story_id, a.id)"
ACTIVE_MUTE = "SELECT 1 FROM mutes mu WHERE mu.until > ? AND mu.kind = ? AND mu.key = ?"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def days_ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")


@dataclass(frozen=True)
class MatchFilter:
    """What the matches page and `monitor matches` filter on; empty strings mean any."""

    rule: str = ""
    priority: str = ""
    tag: str = ""
    language: str = ""
    since: str = ""          # ISO time or date, inclusive
    until: str = ""          # ISO time or date, exclusive

    def where(self) -> tuple[str, list[Any]]:
        sql, params = ["1 = 1"], []
        # `f.language || ''`: the language is checked on rows found by story or by match time, never
        # looked up in article_facets_language (that would read every article in the language)
        for column, value in (("m.rule", self.rule), ("m.priority", self.priority), ("f.language || ''", self.language)):
            if value:
                sql.append(f"{column} = ?")
                params.append(value)
        if self.tag:
            sql.append("f.feed_tags LIKE ?")
            params.append("%" + json.dumps(self.tag) + "%")
        if self.since:
            sql.append("m.created >= ?")
            params.append(self.since)
        if self.until:
            sql.append("m.created < ?")
            params.append(self.until)
        return " AND ".join(sql), params


def match_stories(conn: sqlite3.Connection, f: MatchFilter, limit: int, offset: int = 0) -> tuple[list[dict], bool]:
    """One row per story with its latest match first; (stories, whether there is a next page).

    Each story has `articles`: its matched copies (newest match first), each with its rules.
    """
    where, params = f.where()
    if f.language and conn.execute("SELECT 1 FROM article_facets WHERE language = ? LIMIT 1",
                                   [f.language]).fetchone() is None:
        return [], False        # no article in that language: no walk through every match to find none
    heads, more = _page_of_stories(conn, where, params, limit, offset)
    if not heads:
        return [], False
    ids = [h["story"] for h in heads]
    marks = ",".join("?" * len(ids))
    arts = rows(conn, "SELECT a.id, a.url, a.title, a.summary, a.text, a.source, a.feed_url, a.published, "
                      "a.language, a.feed_tags, a.text_source, a.updated, f.story AS story, m.rule, m.priority, "
                      "m.title AS rule_title, m.hits, m.created AS matched, fb.verdict "
                      "FROM article_facets f JOIN articles a ON a.id = f.id JOIN matches m ON m.article_id = a.id "
                      "LEFT JOIN feedback fb ON fb.article_id = a.id AND fb.rule = m.rule "
                      f"WHERE f.story IN ({marks}) AND {where} "
                      "ORDER BY m.created DESC", [*ids, *params])
    muted = {r["key"] for r in rows(conn, f"SELECT key FROM mutes WHERE kind = 'story' AND until > ? "
                                          f"AND key IN ({marks})", [now_iso(), *map(str, ids)])}
    by_story: dict[int, dict] = {h["story"]: {**h, "articles": {}, "rules": [], "muted": str(h["story"]) in muted}
                                 for h in heads}
    for r in arts:
        s = by_story.get(r["story"])
        if s is None:
            continue
        art = s["articles"].setdefault(r["id"], {**r, "matches": []})
        art["matches"].append({"rule": r["rule"], "priority": r["priority"], "rule_title": r["rule_title"],
                               "hits": json.loads(r["hits"] or "[]"), "verdict": r["verdict"]})
        if r["rule"] not in s["rules"]:
            s["rules"].append(r["rule"])
    copies: dict[int, list[dict]] = {}
    for r in rows(conn, "SELECT a.id, a.url, a.title, a.source, a.feed_url, a.published, f.story AS story "
                        f"FROM article_facets f JOIN articles a ON a.id = f.id WHERE f.story IN ({marks}) "
                        "ORDER BY a.published, a.id", ids):
        copies.setdefault(r["story"], []).append(r)
    out = []
    for h in heads:
        s = by_story[h["story"]]
        s["articles"] = list(s["articles"].values())
        s["lead"] = s["articles"][0] if s["articles"] else None
        s["copies"] = len(s["articles"])
        matched = {a["id"]: a for a in s["articles"]}
        # every outlet's copy, matched or not (later copies of a story are often not queued again)
        s["outlets"] = [matched.get(c["id"], {**c, "matches": [], "matched": None})
                        for c in copies.get(h["story"], []) if s["lead"] is None or c["id"] != s["lead"]["id"]]
        out.append(s)
    return out, more


def _page_of_stories(conn: sqlite3.Connection, where: str, params: list[Any], limit: int,
                     offset: int) -> tuple[list[dict], bool]:
    """Stories ordered by their latest match, one page of them, and whether more follow.

    Walks the matches newest first along a covering index (no sort, no grouping of the
    whole period) on the narrow article_facets rows, and stops as soon as the page and
    one more story are known: a story first appears at its latest match.
    """
    last: dict[int, str] = {}
    wanted = offset + limit + 1
    # in batches with a LIMIT (so PostgreSQL plans the same walk down the index SQLite takes,
    # not a join of the whole period), in the index's own total order (so OFFSET is stable)
    step, skip = max(100, 2 * wanted), 0
    while len(last) < wanted:
        batch = conn.execute("SELECT f.story, m.created FROM matches m JOIN article_facets f ON f.id = m.article_id "
                             f"WHERE {where} ORDER BY m.created DESC, m.rule DESC, m.priority DESC, "
                             "m.article_id DESC LIMIT ? OFFSET ?", [*params, step, skip]).fetchall()
        for story_id, created in batch:
            if story_id not in last:
                last[story_id] = created
                if len(last) >= wanted:
                    break
        if len(batch) < step:
            break
        skip += step
        step *= 2
    order = list(last)
    page = [{"story": sid, "last_match": last[sid]} for sid in order[offset:offset + limit]]
    return page, len(order) > offset + limit


def story(conn: sqlite3.Connection, story_id: int) -> dict | None:
    """Every copy of a story, first published first, each with its matches."""
    arts = rows(conn, "SELECT id, url, title, source, feed_url, published, language, created, updated, text_source "
                      "FROM articles WHERE story_id = ? OR id = ? ORDER BY published, id", [story_id, story_id])
    if not arts:
        return None
    ids = [a["id"] for a in arts]
    marks = ",".join("?" * len(ids))
    matched: dict[int, list[dict]] = {}
    for m in rows(conn, f"SELECT article_id, rule, priority, created FROM matches WHERE article_id IN ({marks})", ids):
        matched.setdefault(m["article_id"], []).append(m)
    for a in arts:
        a["matches"] = matched.get(a["id"], [])
    muted = one(conn, "SELECT until FROM mutes WHERE kind = 'story' AND key = ? AND until > ? "
                      "ORDER BY until DESC LIMIT 1", [str(story_id), now_iso()])
    return {"id": story_id, "articles": arts, "muted_until": muted["until"] if muted else None,
            "deliveries": deliveries_of(conn, ids)}


def article(conn: sqlite3.Connection, article_id: int) -> dict | None:
    a = one(conn, f"SELECT a.*, {STORY} AS story FROM articles a WHERE a.id = ?", [article_id])
    if a is None:
        return None
    a["feed_tags"] = json.loads(a["feed_tags"] or "[]")
    a["matches"] = rows(conn, "SELECT m.rule, m.priority, m.title AS rule_title, m.hits, m.created, f.verdict "
                              "FROM matches m LEFT JOIN feedback f ON f.article_id = m.article_id AND f.rule = m.rule "
                              "WHERE m.article_id = ? ORDER BY m.rule", [article_id])
    for m in a["matches"]:
        m["hits"] = json.loads(m["hits"] or "[]")
    a["deliveries"] = deliveries_of(conn, [article_id])
    return a


def deliveries_of(conn: sqlite3.Connection, article_ids: list[int]) -> list[dict]:
    """Every delivery that carried one of these articles (history kept across re-alerts), newest first."""
    marks = ",".join("?" * len(article_ids))
    return rows(conn, "SELECT l.article_id, l.rule, d.id, d.channel, d.kind, d.status, d.created, d.sent_at, "
                      "d.attempts, d.last_error FROM delivery_log l JOIN deliveries d ON d.id = l.delivery_id "
                      f"WHERE l.article_id IN ({marks}) ORDER BY d.created DESC", article_ids)


def rule_stats(conn: sqlite3.Connection, days: int = 30) -> tuple[dict[str, dict[str, int]], dict[str, str]]:
    """Matches per rule per UTC day over the last `days` days, and each rule's last match time."""
    per_day: dict[str, dict[str, int]] = {}
    for r in conn.execute("SELECT rule, substr(created, 1, 10) AS day, count(*) FROM matches "
                          "WHERE created >= ? GROUP BY rule, day", [days_ago(days)]):
        per_day.setdefault(r[0], {})[r[1]] = r[2]
    last = {r[0]: r[1] for r in conn.execute("SELECT rule, max(created) FROM matches GROUP BY rule")}
    return per_day, last


def snoozes(conn: sqlite3.Connection) -> dict[str, str]:
    """Rule id -> end of its active snooze."""
    return {r[0]: r[1] for r in conn.execute(
        "SELECT key, max(until) FROM mutes WHERE kind = 'rule' AND until > ? GROUP BY key", [now_iso()])}


def rule_feed(conn: sqlite3.Connection, rule: str, limit: int = 50) -> list[dict]:
    """A rule's latest matched articles, for its Atom and JSON feeds."""
    out = rows(conn, "SELECT a.id, a.url, a.title, a.summary, a.text, a.source, a.published, m.created AS matched, "
                     "m.hits FROM matches m JOIN articles a ON a.id = m.article_id WHERE m.rule = ? "
                     "ORDER BY m.created DESC, m.priority DESC, m.article_id DESC LIMIT ?", [rule, limit])
    for r in out:
        r["hits"] = json.loads(r["hits"] or "[]")
    return out


def feeds(conn: sqlite3.Connection, days: int = 7) -> list[dict]:
    """Every feed with its health and how many articles it brought per day lately."""
    out = rows(conn, "SELECT url, name, tags, state, last_success, error_count, failing_since, last_error, "
                     "next_poll FROM feeds ORDER BY (error_count > 0) DESC, name, url")
    # the per-day counters (feed_days, kept by triggers on articles): the last `days` UTC days,
    # today included, a few hundred narrow rows whatever the number of articles
    counts = dict(conn.execute("SELECT feed_url, CAST(sum(articles) AS INTEGER) FROM feed_days WHERE day > ? GROUP BY feed_url",
                               [days_ago(days)[:10]]).fetchall())
    for f in out:
        f["tags"] = json.loads(f["tags"] or "[]")
        f["per_day"] = round(counts.get(f["url"], 0) / days, 1)
    return out


def deliveries(conn: sqlite3.Connection, limit: int = 100) -> dict[str, list[dict]]:
    """Deliveries waiting (pending, never tried), retrying (tried, will try again) and failed, newest first."""
    found = rows(conn, "SELECT * FROM deliveries WHERE status IN ('pending', 'failed') "
                       "ORDER BY created DESC LIMIT ?", [limit])
    groups: dict[str, list[dict]] = {"pending": [], "retrying": [], "failed": []}
    for d in found:
        key = "failed" if d["status"] == "failed" else ("retrying" if d["attempts"] else "pending")
        groups[key].append(d)
    return groups


def channel_backlog(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """Per channel: items waiting in the outbox, and its last sent delivery time."""
    out: dict[str, dict[str, Any]] = {}
    for ch, n in conn.execute("SELECT channel, count(*) FROM outbox WHERE status = 'pending' GROUP BY channel"):
        out.setdefault(ch, {})["queued"] = n
    for ch, t in conn.execute("SELECT channel, max(sent_at) FROM deliveries WHERE status = 'sent' GROUP BY channel"):
        out.setdefault(ch, {})["last_sent"] = t
    return out


def facets(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """The values the matches page offers in its filters (languages and feed tags seen in feeds)."""
    tags: set[str] = set()
    for (t,) in conn.execute("SELECT tags FROM feeds"):
        tags.update(json.loads(t or "[]"))
    if is_postgres(conn):   # a skip-scan of articles_language, one index probe per language
        sql = ("WITH RECURSIVE l(language) AS (SELECT min(language) FROM articles WHERE language > '' "
               "UNION ALL SELECT (SELECT min(language) FROM articles WHERE language > l.language) FROM l "
               "WHERE l.language IS NOT NULL) SELECT language FROM l WHERE language IS NOT NULL LIMIT 200")
    else:
        sql = "SELECT DISTINCT language FROM article_facets WHERE language != '' ORDER BY language LIMIT 200"
    langs = [r[0] for r in conn.execute(sql)]
    return {"tags": sorted(tags), "languages": langs}
