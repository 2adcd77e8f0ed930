"""Hot reload: the last valid set survives bad edits; errors are reported until fixed."""

from __future__ import annotations

import os

from monitor.match import RuleWatcher


def _write(path, body, bump):
    path.write_text(body, encoding="utf-8")
    st = path.stat()
    # make the change visible even on filesystems with coarse mtimes
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump * 1_000_000_000))


def test_watcher_keeps_last_valid_set(tmp_path):
    f = tmp_path / "r.yaml"
    _write(f, "rules:\n  - id: a\n    query: Kallas\n", 1)
    w = RuleWatcher(tmp_path)
    assert [r.id for r in w.current.rules] == ["a"] and w.errors == []
    assert w.refresh() is False                     # nothing changed: no re-read

    _write(f, "rules:\n  - id: a\n    query: (Kallas\n", 2)
    assert w.refresh() is False
    assert [r.id for r in w.current.rules] == ["a"]
    assert len(w.errors) == 1 and "unclosed '('" in w.errors[0]

    _write(f, "rules:\n  - id: b\n    query: Rutte\n", 3)
    assert w.refresh() is True
    assert [r.id for r in w.current.rules] == ["b"] and w.errors == []

    (tmp_path / "more.yml").write_text("rules:\n  - id: c\n    query: SAFE\n")
    assert w.refresh() is True                      # a new file changes the set
    assert [r.id for r in w.current.rules] == ["c", "b"]     # sorted path order: more.yml first


def test_watcher_never_valid(tmp_path):
    (tmp_path / "r.yaml").write_text("rules: [\n")
    w = RuleWatcher(tmp_path)
    assert w.current is None
    assert w.errors and "YAML syntax error" in w.errors[0]
