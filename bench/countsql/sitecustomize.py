"""Statement counting for bench/roundtrips.py: loaded into each worker through PYTHONPATH.

Counts every statement psycopg sends (`Cursor.execute`: one round trip; `executemany`: one
pipelined batch) and every SQLite statement (the trace callback), by SQL text, and on SIGUSR1
(and at exit) writes them with the process's CPU seconds to $MONITOR_COUNT_FILE (`{pid}` in it: this process's) as JSON.
With $MONITOR_PROFILE set, the main thread is also profiled (cProfile), one file per
period between signals ($MONITOR_COUNT_FILE.N.prof). Only active when that variable is set. A bench tool, never imported by monitor itself.
"""

from __future__ import annotations

import os

_FILE = (os.environ.get("MONITOR_COUNT_FILE") or "").replace("{pid}", str(os.getpid()))

if _FILE:
    import atexit
    import json
    import re
    import resource
    import signal
    import sqlite3
    import threading
    from collections import Counter

    _counts: Counter[str] = Counter()
    _lock = threading.Lock()

    def _key(sql: object) -> str:
        text = sql.as_string(None) if hasattr(sql, "as_string") else str(sql)
        text = re.sub(r"\s+", " ", text).strip()
        text = re.sub(r"(%s|\?)(\s*,\s*(%s|\?))+", "?,...", text)       # IN lists of any length: one kind
        text = re.sub(r"(WHEN (%s|\?) THEN (%s|\?) ?)+", "WHEN ... ", text)
        return text[:160]

    _LITERAL = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")

    def _count(kind: str, sql: object) -> None:
        if kind == "sqlite":              # the trace shows the SQL with its values bound: one kind per text
            sql = _LITERAL.sub("?", str(sql))
        with _lock:
            _counts[f"{kind} {_key(sql)}"] += 1

    def _dump(*_a: object) -> None:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        with _lock:
            data = {"cpu": ru.ru_utime + ru.ru_stime, "counts": dict(_counts)}
        tmp = _FILE + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, _FILE)

    try:
        import psycopg

        _execute, _executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany

        def execute(self, query, params=None, **kw):  # type: ignore[no-untyped-def]
            _count("pg", query)
            return _execute(self, query, params, **kw)

        def executemany(self, query, params_seq, **kw):  # type: ignore[no-untyped-def]
            _count("pg-many", query)
            return _executemany(self, query, params_seq, **kw)

        psycopg.Cursor.execute = execute  # type: ignore[method-assign]
        psycopg.Cursor.executemany = executemany  # type: ignore[method-assign]
    except ImportError:
        pass

    _connect = sqlite3.connect

    def connect(*a, **kw):  # type: ignore[no-untyped-def]
        conn = _connect(*a, **kw)
        conn.set_trace_callback(lambda sql: _count("sqlite", sql))
        return conn

    sqlite3.connect = connect  # type: ignore[assignment]
    _PROFILE = os.environ.get("MONITOR_PROFILE")       # set: each period between signals profiled
    _period = [0]
    if _PROFILE:
        import cProfile
        _prof = [cProfile.Profile()]
        _prof[0].enable()

    def _signalled(*_a: object) -> None:
        _dump()
        if _PROFILE:
            _prof[0].disable()
            _prof[0].dump_stats(f"{_FILE}.{_period[0]}.prof")
            _period[0] += 1
            _prof[0] = cProfile.Profile()
            _prof[0].enable()

    signal.signal(signal.SIGUSR1, _signalled)
    atexit.register(_dump)
    _dump()         # the file exists: the handler is in place
