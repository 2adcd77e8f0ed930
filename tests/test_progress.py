"""Long commands show a progress bar (counts and rate) on a terminal, and nothing extra when piped."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

from tests.farm import Farm
from tests.farm import write_config as farm_config

REPO = Path(__file__).resolve().parents[1]


def run_on_terminal(args: list[str]) -> tuple[int, str]:
    """Run with standard error on a pseudo-terminal; returns the exit code and what the terminal got."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:       # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(timeout=120), seen.decode("utf-8", "replace")


def test_poll_shows_a_bar_on_a_terminal_and_nothing_when_piped(tmp_path):
    with Farm("--feeds", "6", "--items", "2") as farm:
        cfg = farm_config(tmp_path, farm.feed_urls(), rules=REPO / "rules", fetch="full_text: false")
        args = [sys.executable, "-m", "monitor", "--config", str(cfg), "poll", "--once", "--all"]
        code, terminal = run_on_terminal(args)
        assert code == 0, terminal[-2000:]
        assert "polling feeds" in terminal and "6/6" in terminal and "feeds/s" in terminal
        farm.advance()
        piped = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=120)
        assert piped.returncode == 0
        assert "polling feeds" not in piped.stderr and "feeds/s" not in piped.stderr
        assert piped.stdout.startswith("poll: 6 feeds")
