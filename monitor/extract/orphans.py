"""Pool processes die with the daemon, whatever kills it (SIGKILL and OOM kills included).

Owns the two guards. A worker process asks the kernel for SIGKILL when its parent (the
forkserver, or the daemon with other start methods) dies: `prctl(PR_SET_PDEATHSIG)`,
set in the worker initializer. The forkserver, which the daemon starts and which forks
the workers, watches the daemon through a pidfd (a watchdog thread that wakes the
moment the daemon is gone) and exits; its workers then get their signal, and the
multiprocessing resource tracker ends once nobody holds its pipe. The forkserver runs
the watchdog because this module is in its preload list and the daemon named itself in
`MONITOR_POOL_OWNER` before starting it. Must not do anything else in those processes.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import sys
import threading
import time

OWNER_ENV = "MONITOR_POOL_OWNER"
PR_SET_PDEATHSIG = 1


def mark_owner() -> None:
    """Call in the daemon before the forkserver starts: the forkserver will die with this process."""
    os.environ[OWNER_ENV] = str(os.getpid())


def die_with_parent(sig: int = signal.SIGKILL) -> bool:
    """Ask the kernel to send sig when the parent dies (Linux); exit now if it already has."""
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        ok = libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        ok = False
    if parent == 1 or os.getppid() != parent:     # the parent died before the request took effect
        os._exit(0)
    return ok


def _wait_for_exit(pid: int) -> None:
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    except (OSError, AttributeError):    # no pidfd (old kernel): poll instead
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            except PermissionError:
                pass
            time.sleep(0.5)
    try:
        select.select([fd], [], [])
    finally:
        os.close(fd)


def exit_when_gone(pid: int) -> threading.Thread:
    """A daemon thread that ends this process as soon as process pid has exited."""
    def watch() -> None:
        _wait_for_exit(pid)
        os._exit(0)
    thread = threading.Thread(target=watch, name=f"exit-with-{pid}", daemon=True)
    thread.start()
    return thread


def _in_forkserver_of_owner() -> bool:
    owner = os.environ.get(OWNER_ENV, "")
    return (owner.isdigit() and int(owner) == os.getppid() and "multiprocessing.forkserver" in sys.modules
            and sys.argv[:1] == ["-c"])


if _in_forkserver_of_owner():      # imported as a forkserver preload: watch the daemon
    exit_when_gone(int(os.environ[OWNER_ENV]))
