"""Hot reload of the rule folder: keep the last valid RuleSet, report the current errors.

Owns deciding when to re-read (a rule file's mtime or size changed, or the set of files
changed, and the newest change is at least `settle_seconds` old, so a file an editor is still
writing in place is never read half-written or empty) and the atomic swap. Must not schedule itself: the daemon calls refresh().
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.errors import RuleError
from monitor.match.incremental import LoadCache
from monitor.match.rules import rule_files

if TYPE_CHECKING:
    from monitor.match import RuleSet


class RuleWatcher:
    """`.current` is the last valid RuleSet (None if never valid); `.errors` the on-disk problems."""

    def __init__(self, path: str | Path, check: Callable[[RuleSet], list[str]] | None = None,
                 max_alias_values: int | None = None, settle_seconds: float = 0.0):
        self.path = Path(path)
        self.settle_ns = int(settle_seconds * 1e9)
        self.max_alias_values = max_alias_values
        # Problems a valid rule set can still have against its surroundings (a rule routed to a
        # channel the config does not define): such a set is refused like an invalid one.
        self.check = check
        self.current: RuleSet | None = None
        self.errors: list[str] = []
        self._stamp: tuple | None = None
        self.cache = LoadCache()    # unchanged files and rules are reused on reload (incremental.py)
        self.refresh()

    def _snapshot(self) -> tuple:
        if not self.path.exists():
            return ("missing",)
        out = []
        for f in rule_files(self.path):
            try:
                st = os.stat(f)
            except OSError:
                continue
            out.append((str(f), st.st_mtime_ns, st.st_size))
        return tuple(out)

    def recheck(self) -> None:
        """Re-read on the next refresh() even if no file changed (the surroundings did)."""
        self._stamp = None

    def refresh(self) -> bool:
        """Re-read when anything changed; True only when a new valid set was swapped in."""
        from monitor.match import load_rules

        stamp = self._snapshot()
        if stamp == self._stamp:
            return False
        newest = max((entry[1] for entry in stamp if len(entry) == 3), default=0)
        if self.settle_ns and self._stamp is not None and time.time_ns() - newest < self.settle_ns:
            return False     # still being written: look again on the next refresh
        self._stamp = stamp
        try:
            new = (load_rules(self.path, self.cache) if self.max_alias_values is None
                   else load_rules(self.path, self.cache, max_alias_values=self.max_alias_values))
        except RuleError as exc:
            self.errors = list(exc.messages)
            return False
        problems = self.check(new) if self.check else []
        if problems:
            self.errors = list(problems)
            return False
        self.errors = []
        self.current = new     # one reference assignment: readers see the old or the new set
        return True
