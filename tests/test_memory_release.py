"""After a cycle the daemon gives the heap's freed pages back (monitor/daemon/memory.py).

Behaviour, in a fresh interpreter: memory freed inside the C heap stays in the process's RSS
until it is released; after `release_freed_memory()` it is gone.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PROBE = """
import gc
from monitor.daemon.memory import release_freed_memory
def rss():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS:")).split()[1]) // 1024
blocks = [bytearray(64 * 1024) for _ in range(3000)]   # ~190 MiB on the heap (under the mmap threshold)
pin = bytearray(64 * 1024)                              # allocated last: the heap cannot shrink from its top
del blocks
gc.collect()
held = rss()
released = release_freed_memory()
print(held, rss(), released)
"""


def test_freed_heap_memory_goes_back_to_the_system():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=REPO, check=True)
    held, after, released = out.stdout.split()
    assert released == "True"
    assert int(held) - int(after) > 120, (held, after)     # MiB given back

