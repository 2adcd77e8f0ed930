"""Progress of long commands on a terminal: a bar with counts and a rate, nothing otherwise.

Owns when to show one (standard error is a TTY) and how (click's own progress bar, with
the position and items per second). When output is piped, redirected or in the daemon
nothing extra is written. Must not decide what the work is.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click


class Progress:
    """`total(n)` once the size is known, `advance()` per item done, `close()` at the end."""

    def __init__(self, label: str, unit: str = "items", enabled: bool | None = None):
        self.label, self.unit = label, unit
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar: Any = None
        self._started = time.monotonic()
        self._done = 0

    def total(self, n: int) -> None:
        if not self.enabled or n <= 0:
            return
        self._started = time.monotonic()
        # the bar's own \r and cursor codes go to the terminal as they are (cli/terminal.py filters
        # everything else); its label and counts are ours, never publisher text
        raw = getattr(sys.stderr, "raw_stream", sys.stderr)
        self._bar = click.progressbar(length=n, label=self.label, file=raw, show_pos=True, show_eta=True,
                                      item_show_func=lambda rate: rate)
        self._bar.__enter__()

    def advance(self, n: int = 1) -> None:
        self._done += n
        if self._bar is not None:
            rate = self._done / max(time.monotonic() - self._started, 1e-6)
            self._bar.update(n, f"{rate:.1f} {self.unit}/s")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
