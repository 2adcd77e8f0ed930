"""Giving the memory a cycle freed back to the system, where the C library keeps it.

Owns one call, `release_freed_memory()`, made when a poll cycle has been recorded. glibc keeps
what a burst of work freed inside the process's heap for reuse: after a cold cycle of 1,000
feeds (10,000 new articles: feeds parsed in the workers and unpickled here, a hundred feed
jobs' SQLite connections and statements at once) the daemon held 280 MB of RSS of which
Python's own objects were under 40 MB at their peak (tracemalloc); `malloc_trim(0)` gave
150 MB of it back (bench/soak.py, docs/benchmarks.md). Later cycles reuse the heap either
way, so this changes the footprint, not the work. Elsewhere than glibc (musl, macOS) there
is no such call and nothing happens. Must not decide when a cycle ends.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache
from typing import Any


@cache
def _malloc_trim() -> Any:
    """glibc's malloc_trim, or None where the C library has none."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_freed_memory() -> bool:
    """Return the heap's free pages to the system; False where the C library cannot."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
