"""Workers die with the daemon: after a SIGKILL of `monitor run`, no process it started survives
(forkserver, extraction workers, resource tracker), checked with ps."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.farm import Farm
from tests.farm import write_config as farm_config

REPO = Path(__file__).resolve().parents[1]


def ps() -> dict[int, tuple[int, str, str]]:
    """pid -> (ppid, state, command) for every process, from `ps`."""
    out = subprocess.run(["ps", "-ww", "-eo", "pid=,ppid=,stat=,args="], capture_output=True, text=True, check=True).stdout
    table = {}
    for line in out.splitlines():
        pid, ppid, stat, *cmd = line.split(None, 3)
        table[int(pid)] = (int(ppid), stat, cmd[0] if cmd else "")
    return table


def descendants(root: int, table: dict[int, tuple[int, str, str]]) -> set[int]:
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, (ppid, _, _) in table.items() if ppid in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> dict[int, str]:
    """Those of pids still running (zombies waiting to be reaped do not count)."""
    table = ps()
    return {p: table[p][2] for p in pids if p in table and not table[p][1].startswith("Z")}


def test_sigkill_of_the_daemon_leaves_no_process_behind(tmp_path):
    with Farm("--feeds", "4", "--items", "3") as farm:
        cfg = farm_config(tmp_path, farm.feed_urls(), rules=REPO / "rules",
                          fetch="check_interval_seconds: 1, extract_workers: 2")
        proc = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(cfg), "run"], cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 90
            family: set[int] = set()
            # the resource tracker, the forkserver and both workers, all started by the first poll
            while len(family) < 4:
                assert proc.poll() is None, "the daemon exited"
                assert time.monotonic() < deadline, f"the pool did not start: {family}"
                time.sleep(0.2)
                family = descendants(proc.pid, ps())
            commands = " ".join(alive(family).values())
            assert "forkserver" in commands and "resource_tracker" in commands
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while alive(family) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = alive(family)
        for pid in left:           # never leave them on the machine, even when the test fails
            subprocess.run(["kill", "-9", str(pid)], check=False)
        assert not left, f"processes survived the daemon's SIGKILL: {left}"


def test_a_feed_farm_dies_with_the_test_or_bench_that_started_it(tmp_path):
    """tests/farm.py starts the farm with PR_SET_PDEATHSIG: a harness killed by SIGKILL (a
    timeout, a Ctrl-C'd bench) leaves no farm listening behind it."""
    probe = tmp_path / "probe.py"
    probe.write_text("import sys, time\nsys.path.insert(0, %r)\nfrom tests.farm import Farm\n"
                     "f = Farm('--feeds', '2').__enter__()\nprint(f.proc.pid, flush=True)\ntime.sleep(120)\n"
                     % str(REPO))
    harness = subprocess.Popen([sys.executable, str(probe)], stdout=subprocess.PIPE, text=True)
    farm_pid = int(harness.stdout.readline())
    harness.kill()
    harness.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and alive({farm_pid}):
        time.sleep(0.1)
    assert not alive({farm_pid})
