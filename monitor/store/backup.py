"""Consistent copies of a live SQLite state, and putting one back.

Owns `backup` (SQLite's online backup API: a consistent snapshot of the database and its
write-ahead log, safe while the daemon writes) and `restore` (the copy checked first, the
current database kept aside, then copied in with the same API). Must not decide whether
a daemon may be running: the caller checks the lock.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from monitor.errors import MonitorError


class BackupError(MonitorError):
    """A backup or restore could not be made; nothing was changed."""


def _copy(src: sqlite3.Connection, dest_path: Path) -> None:
    dest = sqlite3.connect(str(dest_path))
    try:
        src.backup(dest, pages=1024)
    finally:
        dest.close()


def backup(state_path: Path, target: Path) -> int:
    """Write a consistent copy of the database to target (refusing to overwrite); returns its size."""
    if not state_path.is_file():
        raise BackupError(f"no database at {state_path}")
    if target.exists():
        raise BackupError(f"{target} exists; give a new file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"{state_path.resolve().as_uri()}?mode=ro", uri=True)
    partial = target.with_name(target.name + ".partial")
    try:
        _copy(src, partial)
    finally:
        src.close()
    partial.replace(target)
    return target.stat().st_size


def check_copy(path: Path) -> int:
    """The schema version of a backup file; BackupError when it is not an intact monitor database."""
    if not path.is_file():
        raise BackupError(f"no backup file at {path}")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError(f"{path} is damaged (integrity check failed)")
            version = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a monitor database: {exc}") from None
    return int(version or 0)


def restore(source: Path, state_path: Path) -> Path | None:
    """Put the backup at source in place of the database; returns where the old one was kept (or None)."""
    check_copy(source)
    kept = None
    state_path.parent.mkdir(parents=True, exist_ok=True)
    if state_path.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        kept = state_path.with_name(f"{state_path.name}.before-restore-{stamp}")
        backup(state_path, kept)
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    try:
        _copy(src, state_path)
    finally:
        src.close()
    return kept
