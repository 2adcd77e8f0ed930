"""Deployment as written: the Dockerfile (linted with hadolint; its volumes, health check and
paths), the systemd unit, and deploy/install.sh run in a fresh folder with a new system user.

No Docker engine and no running systemd here: the image is not built and the unit is not
started (docs/operations.md says so); everything else the two do is run for real."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from monitor.config import settings as config_mod

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = (REPO / "Dockerfile").read_text()


def instruction(name: str) -> str:
    lines = [ln for ln in DOCKERFILE.splitlines() if ln.startswith(name + " ")]
    assert len(lines) == 1, f"one {name} expected"
    return lines[0][len(name) + 1:]


def test_the_dockerfile_passes_hadolint():
    hadolint = Path(sys.executable).with_name("hadolint")
    res = subprocess.run([str(hadolint), "--format", "json", str(REPO / "Dockerfile")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and json.loads(res.stdout or "[]") == [], res.stdout + res.stderr


def test_config_rules_and_state_are_volumes_and_the_health_check_uses_status_check():
    assert set(json.loads(instruction("VOLUME"))) == {"/app/state", "/app/config", "/app/rules"}
    health = instruction("HEALTHCHECK")
    assert json.loads(health.split("CMD ", 1)[1]) == ["monitor", "status", "--check"]
    assert "MONITOR_CONFIG=/app/config/monitor.yaml" in DOCKERFILE
    assert "XDG_CACHE_HOME=/app/state/cache" in DOCKERFILE      # caches on the writable volume
    assert re.search(r"chown -R 10001:10001 /app/state /app/config /app/rules", DOCKERFILE)
    # the shipped config, read where the image puts it, keeps its state and rules on the volumes
    cfg = config_mod.parse((REPO / "config" / "monitor.yaml").read_text(), "/app/config/monitor.yaml",
                           Path("/app/config"))
    assert cfg.state_path.resolve() == Path("/app/state/monitor.db")
    assert cfg.rules_path.resolve() == Path("/app/rules")


def test_the_systemd_unit_lets_the_service_write_only_its_own_folders():
    unit = (REPO / "deploy" / "monitor.service").read_text()
    assert "ExecStart=/opt/monitor/.venv/bin/monitor --config /opt/monitor/config/monitor.yaml run" in unit
    assert "ReadWritePaths=/opt/monitor/state /opt/monitor/config /opt/monitor/rules" in unit
    # caches go where it may write (ProtectHome: not under home), or they are built at every start
    assert re.search(r"^Environment=XDG_CACHE_HOME=/opt/monitor/state/cache$", unit, re.M)
    assert re.search(r"^RestartPreventExitStatus=2", unit, re.M)   # a refused start is not retried in a loop


@pytest.mark.slow
def test_install_script_in_a_fresh_folder_with_a_new_system_user():
    assert os.geteuid() == 0, "the install test creates a system user: run it as root"
    python = shutil.which("python3", path="/usr/bin:/usr/local/bin")
    assert python, "a python3 the new user may execute"
    user = f"mon{uuid.uuid4().hex[:8]}"
    base = Path(tempfile.mkdtemp(prefix="monitor-install-", dir="/tmp"))
    base.chmod(0o755)                 # the service user must reach the prefix
    prefix, units = base / "opt", base / "units"
    try:
        res = subprocess.run(["sh", str(REPO / "deploy" / "install.sh"), "--prefix", str(prefix), "--user", user,
                              "--unit-dir", str(units), "--no-start", "--python", python],
                             capture_output=True, text=True, timeout=1200)
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        assert "OK: 12 feeds" in res.stdout and "created schema version" in res.stdout
        unit = (units / "monitor.service").read_text()
        assert f"User={user}" in unit and f"ExecStart={prefix}/.venv/bin/monitor --config {prefix}/config" in unit

        def as_user(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run(["runuser", "-u", user, "--", str(prefix / ".venv" / "bin" / "monitor"),
                                   "--config", str(prefix / "config" / "monitor.yaml"), *args],
                                  capture_output=True, text=True, timeout=120, cwd="/")
        status = as_user("status")
        assert status.returncode == 0 and "daemon: not running" in status.stdout, status.stderr
        assert as_user("status", "--check").returncode == 1
        added = as_user("feeds", "add", "https://feeds.example.org/news.xml", "--force")
        assert added.returncode == 0, added.stderr            # the user owns config/: edits work
        assert "https://feeds.example.org/news.xml" in (prefix / "config" / "monitor.yaml").read_text()
        # ... but cannot change the code it runs
        touch = subprocess.run(["runuser", "-u", user, "--", "touch", str(prefix / "monitor" / "x.py")],
                               capture_output=True, text=True)
        assert touch.returncode != 0
        assert (prefix / "state" / "monitor.db").stat().st_uid == int(
            subprocess.run(["id", "-u", user], capture_output=True, text=True, check=True).stdout)
    finally:
        shutil.rmtree(base, ignore_errors=True)
        subprocess.run(["userdel", user], capture_output=True)
