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


def _same(a, b):
    """Two rule sets equal rule by rule, trees included (Rule equality leaves the trees out)."""
    return [(r, r.query_ast, r.exclude_ast, r.ignore_ast) for r in a.rules] == \
           [(r, r.query_ast, r.exclude_ast, r.ignore_ast) for r in b.rules] and a.warnings == b.warnings


def test_reload_rereads_only_the_edited_file_and_the_rules_using_its_entities(tmp_path):
    from monitor.match import load_rules
    (tmp_path / "a_entities.yaml").write_text(
        "entities:\n  kallas: ['\"Kaja Kallas\"']\n  rutte: ['\"Mark Rutte\"']\n", encoding="utf-8")
    for n in range(5):
        body = "rules:\n" + "".join(f"  - id: r{n}-{i}\n    query: 'w{n}x{i} OR word{i} or x'\n" for i in range(20))
        (tmp_path / f"b{n}.yaml").write_text(body, encoding="utf-8")
    (tmp_path / "c_users.yaml").write_text(
        "rules:\n  - id: uses-kallas\n    query: '@kallas NEAR/5 EU'\n  - id: uses-rutte\n    query: '@rutte'\n",
        encoding="utf-8")
    w = RuleWatcher(tmp_path)
    assert w.cache.reads == 7 and w.cache.built == 102
    assert _same(w.current, load_rules(tmp_path))
    assert all(doc.get("rules", []) == [] for _, doc in w.cache.docs.values())   # the raw rules are dropped

    _write(tmp_path / "b3.yaml", (tmp_path / "b3.yaml").read_text().replace("w3x7", "changed"), 1)
    assert w.refresh() is True
    assert (w.cache.reads, w.cache.built) == (1, 20)          # one file read, its 20 rules built
    assert [r.query for r in w.current.rules if r.id == "r3-7"] == ["changed OR word7 or x"]
    assert _same(w.current, load_rules(tmp_path))
    assert len(w.current.warnings) == 100                     # reused rules keep their warnings

    _write(tmp_path / "a_entities.yaml",
           "entities:\n  kallas: ['\"Kaja Kallas\"', 'Каллас']\n  rutte: ['\"Mark Rutte\"']\n", 2)
    assert w.refresh() is True
    # the entities file and the file using them are read (the cache keeps rules, not their
    # YAML), and only the rule using @kallas is rebuilt
    assert (w.cache.reads, w.cache.built) == (2, 1)
    assert _same(w.current, load_rules(tmp_path))

    _write(tmp_path / "b1.yaml", "rules:\n  - id: uses-rutte\n    query: x\n", 3)   # a duplicate id
    assert w.refresh() is False
    assert any("duplicate rule id 'uses-rutte'" in e for e in w.errors)
    (tmp_path / "b1.yaml").unlink()
    assert w.refresh() is True and w.errors == []
    assert _same(w.current, load_rules(tmp_path))


def test_a_rule_file_still_being_written_is_not_read_until_it_settles(tmp_path):
    """An editor that saves in place truncates first: the daemon must not take the empty file
    as a valid set of no rules; it waits until the newest change is settle_seconds old."""
    import os
    import time

    from monitor.match import RuleWatcher

    rules = tmp_path / "rules"
    rules.mkdir()
    f = rules / "a.yaml"
    f.write_text("rules:\n  - id: a\n    query: nato\n")
    watcher = RuleWatcher(rules, settle_seconds=30)
    assert [r.id for r in watcher.current.rules] == ["a"]
    f.write_text("")                                   # mid-save: truncated, not yet rewritten
    assert watcher.refresh() is False
    assert [r.id for r in watcher.current.rules] == ["a"]
    f.write_text("rules:\n  - id: b\n    query: eu\n")
    old = time.time() - 60
    os.utime(f, (old, old))                            # the save finished a minute ago
    assert watcher.refresh() is True
    assert [r.id for r in watcher.current.rules] == ["b"]
