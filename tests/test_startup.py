"""`monitor run` refuses to start, with one clear line, when it must not: a second daemon on the
same state, a used port, an unset secret, a database left at the old place; `config check`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.farm import write_config

REPO = Path(__file__).resolve().parents[1]


def monitor(*args: str, cfg: Path, cwd: Path = REPO, env: dict | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "monitor", "--config", str(cfg), *args], capture_output=True,
                          text=True, cwd=cwd, timeout=timeout, env={**os.environ, **(env or {})})


def start(cfg: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(cfg), "run"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    return err


def wait_until(cond, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_a_second_daemon_on_the_same_state_is_refused_naming_the_pid(tmp_path):
    cfg = write_config(tmp_path, [], rules=REPO / "rules", fetch="extract_workers: 1")
    first = start(cfg)
    try:
        lock = tmp_path / "state" / "monitor.db.lock"
        wait_until(lambda: lock.exists() and lock.read_text().strip() == str(first.pid), "the first daemon's lock")
        second = monitor("run", cfg=cfg, timeout=60)
        assert second.returncode == 2, second.stderr
        assert f"already running on {tmp_path / 'state' / 'monitor.db'} (pid {first.pid})" in second.stderr
        assert "Traceback" not in second.stderr
        assert first.poll() is None
    finally:
        err = stop(first)
    assert "stopped cleanly" in err
    # the lock goes with the process: a new daemon starts after the first stopped
    again = start(cfg)
    try:
        wait_until(lambda: lock.read_text().strip() == str(again.pid), "the restarted daemon's lock")
    finally:
        stop(again)


def test_a_used_port_stops_the_start_with_one_line_and_no_traceback(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cfg = write_config(tmp_path, [], rules=REPO / "rules", extra=f'http: {{listen: "127.0.0.1:{port}"}}')
        res = monitor("run", cfg=cfg, timeout=60)
    assert res.returncode == 2
    assert f"http.listen 127.0.0.1:{port}: cannot listen there" in res.stderr
    assert "Traceback" not in res.stderr and "closed database" not in res.stderr
    assert not (tmp_path / "state" / "monitor.db").exists()     # refused before any state was made


def test_an_unset_secret_is_a_warning_in_config_check_and_an_error_at_start(tmp_path):
    channels = ("[{name: desk, type: email, host: smtp.example.org, from: m@example.org, to: d@example.org, "
                "password_env: MONITOR_TEST_NOT_SET}]")
    cfg = write_config(tmp_path, [], rules=REPO / "rules", channels=channels, extra="default_channels: [desk]")
    env = {"MONITOR_TEST_NOT_SET": ""}
    check = monitor("config", "check", cfg=cfg, env=env)
    assert check.returncode == 0, check.stderr
    assert "warning:" in check.stderr and "channel 'desk': password_env names the environment variable " \
        "MONITOR_TEST_NOT_SET" in check.stderr
    run = monitor("run", cfg=cfg, env=env, timeout=60)
    assert run.returncode == 2
    assert "not starting" in run.stderr and "MONITOR_TEST_NOT_SET" in run.stderr and "'desk'" in run.stderr


def test_config_check_lists_every_problem_of_config_and_rules_sorted_and_touches_no_state(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "a.yaml").write_text("rules:\n  - id: a\n    query: x\n    channels: [archve]\n"
                                  "  - id: b\n    query: '(y'\n")
    cfg = write_config(tmp_path, [], rules=rules, digest="max_items: 0", extra="retention_days: 0")
    res = monitor("config", "check", cfg=cfg)
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith(str(tmp_path))]
    assert any("max_items must be at least 1" in ln for ln in lines)
    assert any("retention_days 0 would delete every article" in ln for ln in lines)
    # with the config invalid the rules are still checked on their own
    assert any("a.yaml:6:" in ln for ln in lines)
    assert lines.index(next(ln for ln in lines if "max_items" in ln)) < \
        lines.index(next(ln for ln in lines if "retention_days" in ln))
    assert not (tmp_path / "state").exists()
    # config fixed: the rule's unknown channel is the one remaining problem, with a hint
    cfg = write_config(tmp_path, [], rules=rules)
    (rules / "a.yaml").write_text("rules:\n  - id: a\n    query: x\n    channels: [archve]\n")
    res = monitor("config", "check", cfg=cfg)
    assert res.returncode == 2
    assert "a.yaml:4:16: rule 'a' routes to channel 'archve'" in res.stderr
    assert "did you mean 'archive'?" in res.stderr
    rules_check = monitor("rules", "check", cfg=cfg)
    assert rules_check.returncode == 1 and "routes to channel 'archve'" in rules_check.stderr
    assert not (tmp_path / "state").exists()


def test_paths_follow_the_config_file_and_an_old_cwd_database_is_not_replaced_by_an_empty_one(tmp_path):
    conf_dir = tmp_path / "etc"
    conf_dir.mkdir()
    cfg = conf_dir / "monitor.yaml"
    cfg.write_text(f"state: {{path: state/monitor.db}}\nrules: {{path: {REPO / 'rules'}}}\n"
                   "channels: [{name: archive, type: file}]\n")
    elsewhere = tmp_path / "cwd"
    (elsewhere / "state").mkdir(parents=True)
    old = elsewhere / "state" / "monitor.db"
    import sqlite3
    sqlite3.connect(old).execute("CREATE TABLE t (x)").connection.close()
    res = monitor("run", cfg=cfg, cwd=elsewhere, timeout=60)
    assert res.returncode == 2
    assert f"no database at {conf_dir / 'state' / 'monitor.db'}, but there is one at {old}" in res.stderr
    assert not (conf_dir / "state" / "monitor.db").exists()
    check = monitor("config", "check", cfg=cfg, cwd=elsewhere)
    assert check.returncode == 0 and "warning: no database at" in check.stderr
