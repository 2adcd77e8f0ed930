"""The terminal as an output format: nothing monitor prints may command it.

Owns `guard_streams(ctx)`, which every command runs through (the `cli` group calls it):
for the command's lifetime, sys.stdout and sys.stderr pass every string through
`sanitize.strip_controls`, so publisher text shown by `digest --preview`, `extract`,
`rules test`, `rules backtest`, `feeds list`, `status` or a log line cannot carry ESC
sequences, BEL, CR overwrites or C1 controls to the terminal (or into a file it is
redirected to). Newlines and tabs pass. Must not format or decide what is printed.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

import click

from monitor.sanitize import strip_controls


class ControlStrippingStream:
    """A text stream wrapper whose write() drops control characters; all else is delegated."""

    def __init__(self, inner: TextIO):
        self._inner = inner

    def write(self, s: str) -> int:
        if not isinstance(s, str):
            raise TypeError("a text stream: write str, not bytes")
        self._inner.write(strip_controls(s))
        return len(s)

    @property
    def raw_stream(self) -> TextIO:
        """The stream underneath, for monitor's own terminal codes (the progress bar's \r)."""
        return self._inner

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        if name == "buffer":
            # no raw byte path around the filter (click would take one for a misconfigured stream)
            raise AttributeError(name)
        return getattr(self._inner, name)


def guard_streams(ctx: click.Context) -> None:
    """Filter sys.stdout and sys.stderr until the command's context closes."""
    saved = sys.stdout, sys.stderr
    if not isinstance(sys.stdout, ControlStrippingStream):
        sys.stdout = ControlStrippingStream(sys.stdout)
    if not isinstance(sys.stderr, ControlStrippingStream):
        sys.stderr = ControlStrippingStream(sys.stderr)

    def restore() -> None:
        sys.stdout, sys.stderr = saved
    ctx.call_on_close(restore)
