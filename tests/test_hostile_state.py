"""A damaged or read-only state database: a clear error naming the file, exit 2, no traceback.

Real processes (`python -m monitor ...`) on real files: garbage bytes, a database cut in
half, and a database its user may not write (as root, the commands run as `nobody` through
setpriv, since root ignores file modes). The file must be left exactly as it was.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from monitor.errors import StateError
from monitor.store.sqlite import Store

REPO = Path(__file__).resolve().parents[1]
COMMANDS = [["status"], ["status", "--json"], ["poll", "--once", "--all"], ["digest", "--preview"],
            ["digest", "--send"], ["feeds", "list"], ["rules", "backtest"], ["run"]]


def run(args: list[str], cwd: Path, as_nobody: bool = False) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "monitor", "--config", "c.yaml", *args]
    if as_nobody:
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def setup_dir(tmp_path: Path) -> Path:
    (tmp_path / "state").mkdir()
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text("rules:\n  - id: k\n    query: Kallas\n")
    (tmp_path / "c.yaml").write_text("state: {path: state/monitor.db, digests_dir: state/d}\n"
                                     "rules: {path: rules}\nchannels: [{name: desk, type: file}]\n"
                                     "feeds: [{url: 'http://127.0.0.1:9/feed.xml'}]\n")
    return tmp_path / "state" / "monitor.db"


def check(out: subprocess.CompletedProcess, db: Path, expected: str) -> None:
    assert out.returncode == 2, (out.returncode, out.stderr[-2000:])
    assert "Traceback" not in out.stderr and "sqlite3." not in out.stderr, out.stderr[-2000:]
    assert f"state database {db}" in out.stderr and expected in out.stderr, out.stderr


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_a_file_that_is_not_a_database(tmp_path, command):
    db = setup_dir(tmp_path)
    db.write_bytes(b"These are my notes, not a database. " * 200)
    before = digest(db)
    check(run(command, tmp_path), db, "is damaged or is not a monitor database")
    assert digest(db) == before


def test_a_database_cut_in_half(tmp_path):
    db = setup_dir(tmp_path)
    Store(db).close()
    store = Store(db)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    size = db.stat().st_size
    with db.open("r+b") as f:
        f.truncate(size // 2)
    for command in (["status"], ["poll", "--once", "--all"]):
        out = run(command, tmp_path)
        check(out, db, "damaged")


@pytest.fixture
def open_dir():
    """A folder every user may enter (pytest's own tmp folders are private to their owner)."""
    path = Path(tempfile.mkdtemp(prefix="monitor-readonly-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    for p in [path, *path.rglob("*")]:
        if p.is_dir():
            p.chmod(0o755)
    shutil.rmtree(path)


@pytest.mark.parametrize("command", [["status"], ["poll", "--once", "--all"], ["digest", "--send"], ["run"]],
                         ids=["status", "poll", "digest-send", "run"])
def test_a_read_only_database(open_dir, command):
    if os.geteuid() == 0 and not shutil.which("setpriv"):
        raise RuntimeError("running as root: setpriv (util-linux) is needed to test file permissions")
    tmp_path = open_dir
    db = setup_dir(tmp_path)
    Store(db).close()
    for p in db.parent.iterdir():
        p.chmod(0o444)
    db.parent.chmod(0o555)
    tmp_path.chmod(0o755)
    try:
        before = digest(db)
        check(run(command, tmp_path, as_nobody=os.geteuid() == 0), db, "writable by this user")
        assert digest(db) == before
    finally:
        db.parent.chmod(0o755)


def test_a_state_folder_the_user_cannot_enter(open_dir):
    """The database lies in a folder this user may not enter."""
    if os.geteuid() != 0:
        raise RuntimeError("needs root to run the command as another user")
    tmp_path = open_dir
    db = setup_dir(tmp_path)
    Store(db).close()
    hidden = tmp_path / "state"
    hidden.chmod(0o700)
    try:
        for command in (["status"], ["poll", "--once", "--all"]):
            check(run(command, tmp_path, as_nobody=True), db, "writable by this user")
    finally:
        hidden.chmod(0o755)


def test_the_store_raises_state_error_naming_the_file(tmp_path):
    db = tmp_path / "x.db"
    db.write_bytes(b"\x00" * 10 + b"garbage" * 100)
    with pytest.raises(StateError, match=str(db)):
        Store(db)
