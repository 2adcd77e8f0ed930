"""The thin SQL dialect layer between the shared queries and the two backends.

The query modules (feeds, articles, deliveries, parts, stories, housekeeping) write one
SQL text in SQLite's spelling, with `?` placeholders; most of it is the same in both
databases. `to_postgres` turns such a text into PostgreSQL's: `%s` placeholders (a
literal `%` doubled), and `INSERT OR IGNORE` as `INSERT ... ON CONFLICT DO NOTHING`
(placed before a `RETURNING`). What cannot be rewritten mechanically is asked of a
`Dialect` by the query itself (`json_number`, `strpos`, `for_update`). Must not hold
queries or open connections.
"""

from __future__ import annotations

import re
from functools import lru_cache

_OR_IGNORE = re.compile(r"^\s*INSERT\s+OR\s+IGNORE\s+INTO\b", re.IGNORECASE)
_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)
_SQLITE_ONLY = re.compile(r"\b(INSERT\s+OR\s+REPLACE\b|UPDATE\s+OR\s+IGNORE\b|PRAGMA\b|changes\s*\(|"
                          r"last_insert_rowid\b|json_extract\s*\(|instr\s*\(|strftime\s*\(|rowid\b)",
                          re.IGNORECASE)


class DialectError(ValueError):
    """A SQL text uses a SQLite-only form that has no mechanical PostgreSQL rewrite."""


def _placeholders(sql: str) -> str:
    """`?` -> `%s` and `%` -> `%%`, outside quoted literals and identifiers."""
    out: list[str] = []
    quote = ""
    for ch in sql:
        if quote:
            out.append("%%" if ch == "%" else ch)
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return "".join(out)


def _unquoted(sql: str) -> str:
    """The text with quoted literals blanked, for keyword checks that must not look inside strings
    (the same length: a position found in it is the same in the text)."""
    return re.sub(r"'[^']*'", lambda m: "'" + " " * (len(m.group(0)) - 2) + "'", sql)


@lru_cache(maxsize=2048)
def to_postgres(sql: str) -> str:
    """One shared SQL text in PostgreSQL's spelling (cached: the texts are the code's constants)."""
    bare = _unquoted(sql)
    bad = _SQLITE_ONLY.search(bare)
    if bad:
        raise DialectError(f"SQLite-only SQL ({bad.group(0)!r}) sent to PostgreSQL: {sql[:200]}")
    if _OR_IGNORE.match(sql):
        sql = _OR_IGNORE.sub("INSERT INTO", sql, count=1)
        ret = _RETURNING.search(_unquoted(sql))
        if ret:
            sql = f"{sql[:ret.start()].rstrip()} ON CONFLICT DO NOTHING {sql[ret.start():]}"
        else:
            sql = f"{sql.rstrip().rstrip(';')} ON CONFLICT DO NOTHING"
    return _placeholders(sql)


class Dialect(str):
    """What differs between the backends beyond `to_postgres`: the name ("sqlite" or "postgresql",
    so `store.dialect == "postgresql"` reads as it says) and a few SQL pieces."""

    @property
    def name(self) -> str:
        return str(self)

    @property
    def postgres(self) -> bool:
        return self.name == "postgresql"

    def json_number(self, expr: str, key: str) -> str:
        """The number at top-level `key` of the JSON text in `expr` (NULL when absent)."""
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ValueError(f"not a plain JSON key: {key!r}")
        if self.postgres:
            return f"(({expr})::jsonb ->> '{key}')::numeric"
        return f"json_extract({expr}, '$.{key}')"

    def strpos(self, haystack: str, needle: str) -> str:
        """1-based position of `needle` in `haystack`, 0 when absent."""
        return f"strpos({haystack}, {needle})" if self.postgres else f"instr({haystack}, {needle})"

    @property
    def ordered_join(self) -> str:
        """An inner join whose written order the planner keeps (SQLite's CROSS JOIN ... ON)."""
        return "JOIN" if self.postgres else "CROSS JOIN"

    @property
    def for_update(self) -> str:
        """Row locks for a read that decides a write (SQLite's BEGIN IMMEDIATE already serialises writers)."""
        return " FOR UPDATE" if self.postgres else ""


SQLITE = Dialect("sqlite")
POSTGRES = Dialect("postgresql")
