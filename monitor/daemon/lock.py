"""One daemon per SQLite state: an exclusive lock on `STATE.lock`, next to the database.

Owns taking, holding and inspecting the lock. The lock is a `flock` on an open file that
also holds the owner's pid, so the kernel releases it whatever ends the process (SIGKILL
and OOM kills included) and a stale file never blocks a restart. Must not touch the
database itself. (With PostgreSQL, later: one lock per worker id instead.)
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from monitor.errors import MonitorError


class AlreadyRunning(MonitorError):
    """Another process holds the state's lock."""


def lock_path(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + ".lock")


class StateLock:
    """`with StateLock(db):` holds the lock or raises AlreadyRunning naming the running pid."""

    def __init__(self, state_path: Path):
        self.path = lock_path(Path(state_path))
        self._fd: int | None = None

    def acquire(self) -> StateLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            who = f"pid {pid}" if pid else "another process"
            raise AlreadyRunning(f"monitor is already running on {self.path.with_suffix('')} ({who}); "
                                 f"stop it first (lock: {self.path})") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)      # closing releases the flock
            self._fd = None

    def __enter__(self) -> StateLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder(state_path: Path) -> int | None:
    """The pid of the daemon holding the state's lock, or None when no daemon runs on it."""
    path = lock_path(Path(state_path))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(fd) or -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None
