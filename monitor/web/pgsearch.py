"""The search index on PostgreSQL: a tsvector of the rule language's folded tokens, as a prefilter.

Owns the PostgreSQL twin of search.py's FTS5 index (PostgreSQL migration 4): each
article's title, summary and text folded by monitor.match.text.normalise (case,
accents, ß/ø/æ/ł/þ, NFKC, Cyrillic/Greek transliteration) become the lexemes of
`search_docs.body` as they are (`array_to_tsvector`: no parser, no stemming, no stop
words), so a token a rule compares is a lexeme in the index; catching up on new and
edited articles (`search_dirty`, queued by a trigger); and turning a parsed query into a
tsquery every true match satisfies (`ts_query`: the same reductions as
search.fts_query: phrases and NEAR become AND, A NOT NEAR B needs A, a NOT, a leading
wildcard or an OR with an unfilterable branch gives up the prefilter; a trailing
wildcard is a `:*` prefix). Candidates are evaluated exactly by the caller. Must not
decide what matches.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from monitor.match.text import normalise
from monitor.web.db import PgTarget, reading, writing
from monitor.web.search import Syntax, prefilter

BATCH = 400
META_KEY = "fts_last_id"
COLS = ("a.id, a.url, a.title, a.summary, a.text, a.source, a.feed_url, a.published, a.language, "
        "a.feed_tags, a.created")


def lexeme(token: str) -> str:
    """One token as a quoted tsquery lexeme (taken as it is: no parser, no normalisation)."""
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


TSQUERY = Syntax(lexeme, ":*", " & ", " | ")


def ts_query(node: Any) -> str | None:
    """A tsquery implied by the query, or None when no prefilter is safe (search.prefilter's reductions)."""
    return prefilter(node, TSQUERY)


def tokens(row: Any) -> list[str]:
    """The distinct folded tokens of an article (the index's lexemes)."""
    return sorted(set(normalise(" ".join((row["title"] or "", row["summary"] or "", row["text"] or "")))))


def last_indexed(conn: Any) -> int:
    r = conn.execute("SELECT value FROM meta WHERE key = ?", [META_KEY]).fetchone()
    return int(json.loads(r[0])) if r else 0


PUT = ("INSERT INTO search_docs VALUES (%s, array_to_tsvector(%s::text[])) ON CONFLICT (article_id) "
       "DO UPDATE SET body = excluded.body")


def _put(conn: Any, docs: list[tuple[int, list[str]]]) -> None:
    """Index rows for these articles, in one pipelined batch."""
    with conn.conn.cursor() as cur:
        cur.executemany(PUT, docs)


def catch_up(target: PgTarget, budget_seconds: float = 2.0) -> int:
    """Index new articles and re-index edited ones for up to about `budget_seconds`; returns how many."""
    deadline = time.monotonic() + budget_seconds
    done = 0
    while time.monotonic() < deadline:
        with reading(target) as conn:
            last = last_indexed(conn)
            fresh = [(r["id"], tokens(r)) for r in conn.execute(
                "SELECT id, title, summary, text FROM articles WHERE id > ? ORDER BY id LIMIT ?",
                [last, BATCH]).fetchall()]
            edited = [(r["id"], tokens(r)) for r in conn.execute(
                "SELECT a.id, a.title, a.summary, a.text FROM search_dirty d JOIN articles a ON a.id = d.article_id "
                "ORDER BY a.id LIMIT ?", [BATCH]).fetchall()]
        if not fresh and not edited:
            break
        with writing(target) as conn:
            _put(conn, fresh + edited)
            if fresh:
                conn.execute("INSERT INTO meta VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                             "value = excluded.value, updated = excluded.updated",
                             [META_KEY, json.dumps(fresh[-1][0]), time.strftime("%Y-%m-%dT%H:%M:%S+00:00",
                                                                                time.gmtime())])
            if edited:
                conn.execute("DELETE FROM search_dirty WHERE article_id = ANY(?)", [[a for a, _ in edited]])
        done += len(fresh) + len(edited)
    return done


def candidates(conn: Any, query_ast: Any, since: str, batch: int = 200) -> Iterator[dict]:
    """Stored articles created since `since`, newest first, that may match the query.

    Articles not indexed yet, and edited ones waiting to be re-indexed, are always
    candidates; the others pass through the tsvector index when the query gives a prefilter.
    """
    last = last_indexed(conn)
    seen: set[int] = set()
    for sql in (f"SELECT {COLS} FROM articles a WHERE a.id > ? AND a.created >= ? ORDER BY a.id DESC",
                f"SELECT {COLS} FROM search_dirty d JOIN articles a ON a.id = d.article_id "
                "WHERE a.id <= ? AND a.created >= ? ORDER BY a.id DESC"):
        cur = conn.stream(sql, [last, since])
        while found := cur.fetchmany(batch):
            for r in found:
                seen.add(r["id"])
                yield dict(r)
        cur.close()
    expr = ts_query(query_ast)
    if expr is None:
        cur = conn.stream(f"SELECT {COLS} FROM articles a WHERE a.id <= ? AND a.created >= ? ORDER BY a.id DESC",
                          [last, since])
    else:
        cur = conn.stream(f"SELECT {COLS} FROM search_docs s JOIN articles a ON a.id = s.article_id "
                           "WHERE s.body @@ ?::tsquery AND a.id <= ? AND a.created >= ? ORDER BY a.id DESC",
                           [expr, last, since])
    while found := cur.fetchmany(batch):
        for r in found:
            if r["id"] not in seen:
                yield dict(r)
    cur.close()
