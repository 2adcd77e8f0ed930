"""Where a config that does not validate points: its state and rules paths, read leniently.

Owns one fallback: `monitor status` and `monitor config check` still find the database
and the rules of an invalid config on disk (the daemon keeps running on the last valid
one), without trusting anything else in it. Must not be used to run anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from monitor.config import yamlsrc


def _get(doc: Any, section: str, key: str, default: str) -> str:
    part = doc.get(section) if isinstance(doc, dict) else None
    value = part.get(key) if isinstance(part, dict) else None
    return value if isinstance(value, str) and value.strip() else default


def raw_paths(path: Path) -> tuple[Path, Path] | None:
    """(state path, rules path) of the config file at path, resolved like `settings.load`; None if unreadable."""
    try:
        doc = yamlsrc.load(path.read_text(encoding="utf-8"), str(path))
    except Exception:  # noqa: BLE001 - unreadable or not YAML: nothing to go on
        return None
    base = path.resolve().parent

    def resolve(p: str) -> Path:
        q = Path(p).expanduser()
        return q if q.is_absolute() else base / q

    return resolve(_get(doc, "state", "path", "state/monitor.db")), resolve(_get(doc, "rules", "path", "rules"))
