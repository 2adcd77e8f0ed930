"""Test helpers: the feed farm (../shared/tools/feedfarm.py) as a context manager on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FEEDFARM = SHARED / "tools" / "feedfarm.py"


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
                                      *self.args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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
