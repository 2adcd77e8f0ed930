"""The feed farm as a child process of a benchmark: started on a free port, ready when it says so.

Shared by bench/poll.py, bench/poll_inprocess.py and bench/alert.py (run as scripts, so
they import it as `farmproc`). `args` carries `feeds`, `items`, `hosts`, `latency_ms`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FARM = REPO.parent / "shared" / "tools" / "feedfarm.py"


def start_farm(args, ready: Path, timeout_seconds: float = 60.0) -> tuple[subprocess.Popen, str]:
    """Start feedfarm.py; returns the process and its base URL (from its --ready-file)."""
    if not FARM.is_file():
        sys.exit(f"bench: shared material missing: {FARM}")
    if str(REPO) not in sys.path:
        sys.path.append(str(REPO))          # tests.farm (the benches import monitor as installed)
    from tests.farm import die_with_harness
    proc = subprocess.Popen([sys.executable, str(FARM), "--feeds", str(args.feeds), "--items", str(args.items),
                             "--hosts", str(args.hosts), "--latency-ms", str(args.latency_ms), "--port", "0",
                             "--ready-file", str(ready)], stdout=subprocess.DEVNULL,
                            preexec_fn=die_with_harness)
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if ready.exists() and ready.read_text().strip():
            return proc, ready.read_text().strip()
        if proc.poll() is not None:
            sys.exit("bench: feedfarm exited")
        time.sleep(0.05)
    proc.kill()
    sys.exit("bench: feedfarm did not start")
