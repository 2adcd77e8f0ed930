"""Rules edited into an invalid state never stop `monitor run` (a real process).

tests/test_match_reload.py covers RuleWatcher itself; here the daemon keeps running and
polling on its last valid rule set while `monitor status --json` reports the errors,
and the errors clear once the file is fixed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.farm import Farm
from tests.farm import write_config as farm_config

REPO = Path(__file__).resolve().parents[1]


def status(cfg: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "monitor", "--config", str(cfg), "status", "--json"],
                         capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def wait_for(cfg: Path, proc: subprocess.Popen, cond: Callable[[dict], bool], what: str) -> dict:
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, f"the daemon exited while waiting for {what}"
        report = status(cfg)
        if cond(report):
            return report
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {report.get('rules_in_daemon')}"
        time.sleep(0.5)


def write_rule(path: Path, body: str, bump: int) -> None:
    path.write_text(body, encoding="utf-8")
    st = path.stat()
    # a visible mtime change even on filesystems with coarse timestamps
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump * 1_000_000_000))


def test_broken_rules_are_reported_while_the_daemon_keeps_polling(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    rule = rules / "watch.yaml"
    write_rule(rule, "rules:\n  - id: alpha\n    query: '\"Alder Crest\"'\n", 1)
    with Farm("--feeds", "3", "--items", "3") as farm:
        cfg = farm_config(tmp_path, farm.feed_urls(), rules=rules,
                          fetch="check_interval_seconds: 1, timeout_seconds: 5, full_text: false")
        proc = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(cfg), "run"], cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            first = wait_for(cfg, proc, lambda r: bool(r["last_poll"] and r["rules_in_daemon"]), "a first poll")
            assert first["rules_in_daemon"] == {"loaded": 1, "errors": []}
            assert first["counts"]["articles"] == 9

            write_rule(rule, "rules:\n  - id: alpha\n    query: '(\"Alder Crest\"'\n  - id: beta\n", 2)
            broken = wait_for(cfg, proc, lambda r: bool(r["rules_in_daemon"]["errors"]), "the rule errors")
            assert broken["rules_in_daemon"]["loaded"] == 1          # the last valid set is kept
            assert any("watch.yaml" in e for e in broken["rules_in_daemon"]["errors"])
            assert not broken["rules_on_disk"]["valid"]
            beat = broken["heartbeat"]["at"]
            # it still polls: the poll job runs again (heartbeat and cycle record move on)
            # (last_check: the latest cycle, idle or not; last_poll is the latest that polled a feed)
            later = wait_for(cfg, proc, lambda r: r["heartbeat"]["at"] > beat and r["last_check"]
                             > broken["last_check"], "a poll with broken rules")
            assert later["rules_in_daemon"]["errors"]

            write_rule(rule, "rules:\n  - id: alpha\n    query: '\"Alder Crest\"'\n  - id: beta\n    query: Halvorsen\n", 3)
            fixed = wait_for(cfg, proc, lambda r: not r["rules_in_daemon"]["errors"], "the errors to clear")
            assert fixed["rules_in_daemon"] == {"loaded": 2, "errors": []}
            assert fixed["rules_on_disk"]["valid"]
            assert proc.poll() is None
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    assert "stopped cleanly" in err
    assert "Traceback" not in err and "internal error" not in err
