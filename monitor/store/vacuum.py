"""Giving the space of pruned rows back: incremental vacuum in small steps, WAL checkpoint, optimize.

Owns the SQLite upkeep that follows retention (the daemon's housekeeping job, in a
thread, on a connection of its own). A database made by this monitor is created with
`auto_vacuum=INCREMENTAL`, so the pages retention frees can be returned to the file
system a few at a time: `PRAGMA incremental_vacuum(STEP_PAGES)` is one short write
transaction (a poll writing meanwhile waits milliseconds), repeated with a pause until
at most `KEEP_FREE_PAGES` stay free for reuse. `PRAGMA wal_checkpoint(TRUNCATE)` then
writes the log back and truncates it (in WAL mode the database file only shrinks at a
checkpoint), and `PRAGMA optimize` refreshes the planner's statistics where they drifted.

An older database (auto_vacuum=NONE) cannot switch without one full `VACUUM`, which
rewrites the whole file under an exclusive lock: minutes on a big database, with every
job waiting. The daemon therefore never does that by itself; it logs how much is free
inside and names `monitor vacuum`, which converts with the daemon stopped
(`convert`). Must not decide when it runs.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from monitor.store.base import BUSY_TIMEOUT_SECONDS, db_bytes

STEP_PAGES = 256            # 1 MiB at SQLite's 4 KiB pages: one write transaction of a few ms
KEEP_FREE_PAGES = 256       # left free for the next inserts to reuse
PAUSE_SECONDS = 0.02        # between steps, so the polls' writes interleave
MODES = {0: "none", 1: "full", 2: "incremental"}


@dataclass(frozen=True)
class VacuumReport:
    mode: str                      # none | full | incremental
    bytes_before: int
    bytes_after: int
    freed_pages: int
    free_pages: int                # free pages left inside the file
    page_size: int

    @property
    def free_bytes(self) -> int:
        return self.free_pages * self.page_size

    def line(self) -> str:
        if self.mode == "none":
            return (f"vacuum: {self.free_bytes / 1e6:.1f} MB free inside the state database, which was made "
                    "without incremental vacuum; stop the daemon and run `monitor vacuum` once to return it")
        return (f"vacuum: {self.freed_pages} pages returned; state database {self.bytes_before / 1e6:.1f} MB "
                f"-> {self.bytes_after / 1e6:.1f} MB")


def _one(conn: sqlite3.Connection, sql: str) -> int:
    return int(conn.execute(sql).fetchone()[0])


def incremental(path: Path, stop: Callable[[], bool] = lambda: False, *, step_pages: int = STEP_PAGES,
                keep_pages: int = KEEP_FREE_PAGES, pause: float = PAUSE_SECONDS) -> VacuumReport:
    """Return free pages in steps (incremental databases), checkpoint the log, optimize."""
    before = db_bytes(path)
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    try:
        mode = MODES.get(_one(conn, "PRAGMA auto_vacuum"), "none")
        page_size = _one(conn, "PRAGMA page_size")
        freed = 0
        while mode == "incremental" and not stop():
            extra = _one(conn, "PRAGMA freelist_count") - keep_pages
            if extra <= 0:
                break
            n = min(step_pages, extra)
            # executescript steps the pragma to its end (execute() would free one page)
            conn.executescript(f"PRAGMA incremental_vacuum({int(n)});")
            freed += n
            time.sleep(pause)
        if not stop():
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()      # busy readers: tried again next time
            conn.execute("PRAGMA optimize").fetchall()
        free = _one(conn, "PRAGMA freelist_count")
    finally:
        conn.close()
    return VacuumReport(mode, before, db_bytes(path), freed, free, page_size)


def convert(path: Path) -> VacuumReport:
    """The one full VACUUM (daemon stopped): switch to incremental vacuum and compact the file."""
    before = db_bytes(path)
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    try:
        free_before = _one(conn, "PRAGMA freelist_count")
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        mode = MODES.get(_one(conn, "PRAGMA auto_vacuum"), "none")
        page_size = _one(conn, "PRAGMA page_size")
        free = _one(conn, "PRAGMA freelist_count")
    finally:
        conn.close()
    return VacuumReport(mode, before, db_bytes(path), max(0, free_before - free), free, page_size)
