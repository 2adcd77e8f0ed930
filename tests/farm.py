"""Test helpers: the feed farm (../shared/tools/feedfarm.py) as a context manager on 127.0.0.1."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FEEDFARM = SHARED / "tools" / "feedfarm.py"


def die_with_harness() -> None:
    """In the farm's process: SIGTERM when the test or bench that started it dies, even by SIGKILL."""
    from monitor.extract.orphans import die_with_parent
    die_with_parent(signal.SIGTERM)


class Farm:
    """Start `feedfarm.py --port 0 --ready-file F` with the given arguments; stop it on exit."""

    def __init__(self, *args: str):
        if not FEEDFARM.exists():
            raise FileNotFoundError(f"the feed farm is missing: {FEEDFARM} (shared/ must sit beside the repo)")
        self.args = list(args)
        self.url = ""
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Farm:
        self.tmp = tempfile.TemporaryDirectory()
        ready = Path(self.tmp.name) / "ready"
        self.proc = subprocess.Popen([sys.executable, str(FEEDFARM), "--port", "0", "--ready-file", str(ready),
                                      *self.args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     preexec_fn=die_with_harness)
        deadline = time.monotonic() + 30
        while not ready.exists() or not ready.read_text().strip():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"feedfarm did not start: {self.proc.stderr.read().decode()[-500:]}")
            time.sleep(0.05)
        self.url = ready.read_text().strip()
        return self

    def __exit__(self, *exc) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.tmp.cleanup()

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return r.read()

    def truth(self) -> dict:
        return json.loads(self.get("/truth.json"))

    def feed_urls(self) -> list[str]:
        return self.get("/feeds.txt").decode().split()

    def advance(self, steps: int = 1) -> None:
        req = urllib.request.Request(f"{self.url}/advance?steps={steps}", method="POST")
        urllib.request.urlopen(req, timeout=30).read()


def write_config(tmp: Path, feeds: list[str], *, rules: Path, fetch: str = "", digest: str = "",
                 channels: str = "[{name: archive, type: file, schedule: hourly}]", extra: str = "",
                 state_url: str | None = None) -> Path:
    """A config at tmp/monitor.yaml: state under tmp (or in PostgreSQL at state_url), loopback 127.0.0.1
    allowed (the farm's canary 127.0.0.2 stays blocked). `fetch` and `digest` are extra `key: value`
    pairs for those sections."""
    tmp.mkdir(parents=True, exist_ok=True)
    cfg = tmp / "monitor.yaml"
    lines = "\n".join(f"  - url: {u}" for u in feeds)
    # The farm's items are dated January 2026: a first poll alerts on all of them (not only the last 24 h).
    fetch_pairs = ", ".join(p for p in ('allow_private: ["127.0.0.1/32"]', fetch) if p)
    if "first_poll_alert_hours" not in fetch:
        fetch_pairs += ", first_poll_alert_hours: all"
    where = f"url: '{state_url}'" if state_url else f"path: {tmp}/state/monitor.db"
    cfg.write_text(f"""state: {{{where}, digests_dir: {tmp}/state/digests}}
rules: {{path: {rules}}}
fetch: {{{fetch_pairs}}}
digest: {{{digest}}}
channels: {channels}
{extra}
feeds:
{lines}
""")
    return cfg


def email_channel(smtp_port: int, schedule: str) -> str:
    """The `channels:` value for one email channel `desk` on a test SMTP server (plain SMTP)."""
    return (f"\n  - {{name: desk, type: email, schedule: '{schedule}', host: 127.0.0.1, port: {smtp_port}, "
            f"security: none, from: monitor@example.org, to: [desk@example.org]}}")
