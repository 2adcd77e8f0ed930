"""Collecting config problems with their `FILE:LINE:COL`, all at once, in file order.

Owns the error list of one validation run: unknown keys (with a "did you mean"), types,
numeric bounds declared on the settings dataclasses (`bounded(...)` metadata), and the
final sort by file, line and column. Must not know the schema itself (settings.py does).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import MISSING, Field, field
from typing import Any

from monitor.config import yamlsrc

_WHERE_RE = re.compile(r"^(?P<file>.*?):(?P<line>\d+):(?P<col>\d+): ")


def did_you_mean(word: Any, candidates: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for a near miss among candidates, else ''."""
    close = difflib.get_close_matches(str(word), [str(c) for c in candidates], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def sort_messages(messages: Iterable[str]) -> list[str]:
    """Messages ordered by file, then line, then column (messages without a place keep theirs, last)."""
    def key(item: tuple[int, str]) -> tuple:
        index, msg = item
        m = _WHERE_RE.match(msg)
        if not m:
            return (1, "", 0, 0, index)
        return (0, m["file"], int(m["line"]), int(m["col"]), index)
    return [msg for _, msg in sorted(enumerate(messages), key=key)]


def bounded(default: Any, *, ge: float | None = None, gt: float | None = None, le: float | None = None,
            hint: str = "") -> Any:
    """A dataclass field with bounds the checker enforces (`ge`: >=, `gt`: >, `le`: <=)."""
    return field(default=default, metadata={"ge": ge, "gt": gt, "le": le, "hint": hint})


def bound_error(f: Field, value: float) -> str | None:
    """Why value is out of the field's declared bounds, or None."""
    meta = f.metadata
    ge, gt, le = meta.get("ge"), meta.get("gt"), meta.get("le")
    hint = f" ({meta['hint']})" if meta.get("hint") else ""
    if gt is not None and not value > gt:
        return f"{f.name} must be greater than {_num(gt)}, got {_num(value)}{hint}"
    if ge is not None and value < ge:
        return f"{f.name} must be at least {_num(ge)}, got {_num(value)}{hint}"
    if le is not None and value > le:
        return f"{f.name} must be at most {_num(le)}, got {_num(value)}{hint}"
    return None


def has_bounds(f: Field) -> bool:
    return any(f.metadata.get(k) is not None for k in ("ge", "gt", "le"))


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


class Checker:
    """Collects every problem of one file, so a user sees all of them at once."""

    def __init__(self, file: str):
        self.file = file
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def where(self, value: Any, parent: Any = None, key: Any = None) -> str:
        """The best place for a message: the value itself, else its key in parent, else the parent."""
        if isinstance(value, yamlsrc.Pos):
            return value.where()
        if isinstance(parent, yamlsrc.PosDict) and key is not None and key in parent:
            return parent.where_key(key)
        return yamlsrc.where(parent, self.file + ":1:1")

    def err(self, value: Any, msg: str, parent: Any = None, key: Any = None) -> None:
        self.errors.append(f"{self.where(value, parent, key)}: {msg}")

    def warn(self, value: Any, msg: str, parent: Any = None, key: Any = None) -> None:
        self.warnings.append(f"{self.where(value, parent, key)}: {msg}")

    def sorted_errors(self) -> list[str]:
        return sort_messages(self.errors)

    def keys(self, d: Any, allowed: set[str], section: str, required: tuple[str, ...] = ()) -> bool:
        if d is None:
            d = {}
        if not isinstance(d, dict):
            self.err(d, f"{section} must be a mapping")
            return False
        for k in d:
            if k not in allowed:
                where = d.where_key(k) if isinstance(d, yamlsrc.PosDict) else self.file
                hint = did_you_mean(k, allowed) or f" (known: {', '.join(sorted(allowed))})"
                self.errors.append(f"{where}: unknown key {k!r} in {section}{hint}")
        for k in required:
            if k not in d:
                self.err(d, f"{section} needs {k!r}")
        return True

    def typed(self, d: dict, key: str, kind: type | tuple, default: Any) -> Any:
        if key not in d or d[key] is None:
            return default
        v = d[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(v, int) and not isinstance(v, bool):
            return float(v)
        if bool not in kinds and isinstance(v, bool) or not isinstance(v, kinds):
            names = "/".join(k.__name__ for k in kinds)
            hint = ""
            if isinstance(v, str) and (int in kinds or float in kinds) and _looks_numeric(v):
                hint = f": write {v.strip()} without quotes"
            self.err(v, f"{key} must be {names}, got {v!r}{hint}", d, key)
            return default
        return v

    def number(self, d: dict, f: Field, default: Any = MISSING) -> Any:
        """A numeric field of d, type-checked and bounds-checked; the default when absent or wrong."""
        fallback = f.default if default is MISSING else default
        kind: type | tuple = (int, float) if isinstance(f.default, float) else int
        v = self.typed(d, f.name, kind, None)
        if v is None:
            return fallback
        problem = bound_error(f, v)
        if problem:
            self.err(d.get(f.name), problem, d, f.name)
            return fallback
        return float(v) if isinstance(f.default, float) else int(v)


def _looks_numeric(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True
