"""The search index: SQLite FTS5 over the rule language's folded tokens, as a prefilter.

(On PostgreSQL the same contract is kept by monitor.web.pgsearch; `catch_up` and
`candidates` hand over to it.)

Owns filling `articles_fts` (migration 8) with monitor.match.text.fold of each article's
title, summary and text, so the index holds exactly the tokens rules compare
(case, accents, ß/ø/æ... folded as the matcher folds them; FTS5's `ascii` tokenizer
then splits on the spaces fold leaves), catching up on new and edited articles
(`Indexer`), and turning a parsed query into an FTS5 expression that every true match
satisfies (`fts_query`: phrases and NEAR become AND, A NOT NEAR B needs A, a NOT, a
leading wildcard or an OR with an unfilterable branch gives up the prefilter). Candidates are then evaluated exactly by
the caller. Must not decide what matches.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from monitor.match import parse as p
from monitor.match.text import fold
from monitor.web.db import PgTarget, Target, is_postgres, reading, writing

log = logging.getLogger("monitor.web.search")

BATCH = 400
META_KEY = "fts_last_id"


def _quote(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


@dataclass(frozen=True)
class Syntax:
    """How one full-text engine writes the prefilter: a token, a prefix mark, AND, OR."""
    quote: Callable[[str], str]
    prefix: str
    and_: str
    or_: str


FTS5 = Syntax(_quote, "*", " AND ", " OR ")


def _term(t: p.Term, syntax: Syntax) -> str | None:
    toks = [tok for tok in t.tokens if tok]
    if not toks or getattr(t, "open_start", False):
        return None     # a leading wildcard matches inside tokens: an index of tokens cannot narrow that down
    parts = [syntax.quote(tok) for tok in toks[:-1]]
    parts.append(syntax.quote(toks[-1]) + (syntax.prefix if t.prefix else ""))
    return parts[0] if len(parts) == 1 else "(" + syntax.and_.join(parts) + ")"


def prefilter(node: Any, syntax: Syntax) -> str | None:
    """An expression implied by the query in the engine's syntax, or None when no prefilter is
    safe: phrases and NEAR become AND, A NOT NEAR B needs an A, NOT gives up (every article may
    match), an OR gives up when one branch does."""
    if isinstance(node, p.Term):
        return _term(node, syntax)
    if isinstance(node, p.Scope):
        return prefilter(node.child, syntax)
    if isinstance(node, p.NotNear):
        return prefilter(node.left, syntax)       # A NOT NEAR B needs an A
    if isinstance(node, (p.Near, p.And)):
        children = (node.left, node.right) if isinstance(node, p.Near) else node.children
        kept = [s for s in (prefilter(c, syntax) for c in children) if s]
        return None if not kept else "(" + syntax.and_.join(kept) + ")"
    if isinstance(node, p.Or):
        parts = [prefilter(c, syntax) for c in node.children]
        return None if not parts or any(s is None for s in parts) else "(" + syntax.or_.join(parts) + ")"  # type: ignore[arg-type]
    return None     # NOT (and anything unknown): every article may match


def fts_query(node: Any) -> str | None:
    """An FTS5 expression implied by the query, or None when no prefilter is safe."""
    return prefilter(node, FTS5)


def body(row: dict | sqlite3.Row) -> str:
    return fold(" ".join((row["title"] or "", row["summary"] or "", row["text"] or "")))


def last_indexed(conn: sqlite3.Connection) -> int:
    r = conn.execute("SELECT value FROM meta WHERE key = ?", [META_KEY]).fetchone()
    return int(json.loads(r[0])) if r else 0


def _add(conn: sqlite3.Connection, article_id: int, text: str) -> None:
    doc = conn.execute("INSERT INTO fts_docs (article_id) VALUES (?)", [article_id]).lastrowid
    conn.execute("INSERT INTO articles_fts (rowid, body) VALUES (?, ?)", [doc, text])


def catch_up(state_path: Target, budget_seconds: float = 2.0) -> int:
    """Index new articles and re-index edited ones for up to about `budget_seconds`; returns how many."""
    if isinstance(state_path, PgTarget):
        from monitor.web import pgsearch
        return pgsearch.catch_up(state_path, budget_seconds)
    deadline = time.monotonic() + budget_seconds
    done = 0
    while time.monotonic() < deadline:
        with reading(state_path) as conn:
            last = last_indexed(conn)
            fresh = conn.execute("SELECT id, title, summary, text FROM articles WHERE id > ? ORDER BY id LIMIT ?",
                                 [last, BATCH]).fetchall()
            dirty = conn.execute("SELECT count(*) FROM fts_dirty").fetchone()[0]
        if not fresh and not dirty:
            break
        folded = [(r["id"], body(r)) for r in fresh]
        with writing(state_path) as conn:
            for art_id, text in folded:
                _add(conn, art_id, text)
            top = folded[-1][0] if folded else last
            conn.execute("INSERT INTO meta VALUES (?, ?, datetime('now')) ON CONFLICT(key) DO UPDATE SET "
                         "value = excluded.value, updated = excluded.updated", [META_KEY, json.dumps(top)])
            for r in conn.execute("SELECT a.id, a.title, a.summary, a.text FROM fts_dirty d "
                                  "JOIN articles a ON a.id = d.article_id WHERE a.id <= ? LIMIT ?",
                                  [top, BATCH]).fetchall():
                conn.execute("DELETE FROM fts_docs WHERE article_id = ?", [r["id"]])
                _add(conn, r["id"], body(r))
            conn.execute("DELETE FROM fts_dirty WHERE article_id IN (SELECT article_id FROM fts_dirty "
                         "WHERE article_id <= ? LIMIT ?)", [top, BATCH])
        done += len(folded) + dirty
    return done


def candidates(conn: sqlite3.Connection, query_ast: Any, since: str, batch: int = 200) -> Iterator[dict]:
    """Stored articles created since `since`, newest first, that may match the query.

    Articles the index has not reached yet are all candidates; the indexed ones pass
    through FTS5 when the query gives a prefilter. Yields rows with their text. On
    PostgreSQL, monitor.web.pgsearch does the same with its tsvector index.
    """
    if is_postgres(conn):
        from monitor.web import pgsearch
        yield from pgsearch.candidates(conn, query_ast, since, batch)
        return
    last = last_indexed(conn)
    cols = "a.id, a.url, a.title, a.summary, a.text, a.source, a.feed_url, a.published, a.language, " \
           "a.feed_tags, a.created"
    top = None
    while True:     # not yet indexed: newest first
        found = conn.execute(f"SELECT {cols} FROM articles a WHERE a.id > ? AND a.created >= ? "
                             + ("AND a.id < ? " if top else "") + "ORDER BY a.id DESC LIMIT ?",
                             [last, since, *([top] if top else []), batch]).fetchall()
        if not found:
            break
        yield from (dict(r) for r in found)
        top = found[-1]["id"]
    expr = fts_query(query_ast)
    if expr is None:
        sql = f"SELECT {cols} FROM articles a WHERE a.id <= ? AND a.created >= ? ORDER BY a.id DESC"
        params: list[Any] = [last, since]
    else:
        sql = (f"SELECT {cols} FROM articles_fts f JOIN fts_docs d ON d.doc = f.rowid "
               "JOIN articles a ON a.id = d.article_id WHERE articles_fts MATCH ? AND a.created >= ? "
               "ORDER BY f.rowid DESC")
        params = [expr, since]
    cur = conn.execute(sql, params)
    while True:
        found = cur.fetchmany(batch)
        if not found:
            return
        yield from (dict(r) for r in found)


class Indexer:
    """Keeps the search index caught up from a background thread (started by the web server)."""

    def __init__(self, state_path: Target, every_seconds: float = 15.0):
        self.state_path = state_path
        self.every = every_seconds
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def run_once(self, budget_seconds: float = 2.0, wait: bool = True) -> int:
        """Index for up to `budget_seconds`; with wait=False, return 0 at once if another run is going
        (a search never waits for the indexer: unindexed articles are candidates anyway)."""
        if not self.lock.acquire(blocking=wait):
            return 0
        try:
            return catch_up(self.state_path, budget_seconds)
        except Exception as exc:        # a busy, damaged or unreachable database: try again later
            log.warning("search index: %s", exc)
            return 0
        finally:
            self.lock.release()

    def start(self) -> None:
        def loop() -> None:
            wait = 0.0
            while not self.stopping.wait(wait):
                # keep going while there is a backlog (a first start on a full store), then rest
                wait = 0.2 if self.run_once(5.0) else self.every
        self.thread = threading.Thread(target=loop, name="monitor-web-index", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(10)
