"""The incremental index (issue 21): a reload that updates the previous index for the changed
files gives exactly the matches of a fresh load, through any sequence of edits (a file's
rules changed, files added and removed, an entity another file uses redefined)."""

from __future__ import annotations

import os

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.match import RuleWatcher, load_rules
from monitor.match import compile as compile_
from monitor.models import Article
from tests.test_match_reference import fast, rule_st, text_st

ALIASES = st.lists(st.sampled_from(['"Kaja Kallas"', "Rutte", "{EU}", "Est*", "nato", '"safe defence"']),
                   min_size=1, max_size=3, unique=True)
edit_st = st.tuples(st.integers(0, 3), st.one_of(st.none(), st.lists(rule_st, min_size=1, max_size=6)), ALIASES)


def _write(path, doc) -> None:
    old = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    st_ = path.stat()
    os.utime(path, ns=(st_.st_atime_ns, max(st_.st_mtime_ns, old + 1_000_000)))   # always a new stamp


def _rules(n: int, rules: list[dict]) -> list[dict]:
    out = [dict(r, id=f"f{n}-{i}") for i, r in enumerate(rules)]
    out[0] = dict(out[0], query=f"({out[0]['query']}) OR @watch")       # every file uses the entity
    return out


@pytest.mark.parametrize("delta_min", [compile_.DELTA_MIN, 0], ids=["delta-automaton", "base-rebuilt-every-time"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(first=st.lists(st.lists(rule_st, min_size=1, max_size=6), min_size=3, max_size=3),
       edits=st.lists(edit_st, min_size=1, max_size=5), texts=st.lists(text_st, min_size=2, max_size=4))
def test_reload_after_edits_matches_a_fresh_load(tmp_path, monkeypatch, delta_min, first, edits, texts):
    monkeypatch.setattr(compile_, "DELTA_MIN", delta_min)
    monkeypatch.setattr(compile_, "DELTA_SHARE", compile_.DELTA_SHARE if delta_min else 0.0)
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    for f in folder.glob("*.yaml"):
        f.unlink()
    _write(folder / "entities.yaml", {"entities": {"watch": ['"Kaja Kallas"']}})
    for n, rules in enumerate(first):
        _write(folder / f"r{n}.yaml", {"rules": _rules(n, rules)})
    watcher = RuleWatcher(folder)
    docs = [Article(url="u", feed_url="f", guid=str(i), title=texts[i - 1], text=t) for i, t in enumerate(texts)]
    for n, rules, aliases in edits:
        if n == 3:
            _write(folder / "entities.yaml", {"entities": {"watch": aliases}})
        elif rules is None:
            (folder / f"r{n}.yaml").unlink(missing_ok=True)
        else:
            _write(folder / f"r{n}.yaml", {"rules": _rules(n, rules)})
        watcher.refresh()
        assert not watcher.errors, watcher.errors
        fresh = load_rules(folder)
        got = watcher.current
        assert [r.id for r in got.rules] == [r.id for r in fresh.rules]
        for doc in docs:
            assert fast(got, doc) == fast(fresh, doc)


def test_an_edit_updates_the_index_of_that_file_only(tmp_path):
    _write(tmp_path / "a.yaml", {"rules": [{"id": "a1", "query": "kallas"}, {"id": "a2", "query": "{EU} AND nato"}]})
    _write(tmp_path / "b.yaml", {"rules": [{"id": "b1", "query": "rutte"}]})
    watcher = RuleWatcher(tmp_path)
    before = watcher.current
    _write(tmp_path / "b.yaml", {"rules": [{"id": "b1", "query": "rutte OR estonia"}]})
    assert watcher.refresh()
    after = watcher.current
    assert after.rules[:2] == before.rules[:2] and all(x is y for x, y in zip(after.rules[:2], before.rules[:2]))
    assert after._segments[tmp_path / "a.yaml"][1] == before._segments[tmp_path / "a.yaml"][1]   # same refs
    assert " rutte " in before._compiled.keys and " estonia " not in before._compiled.keys   # the old index is intact
    doc = Article(url="u", feed_url="f", guid="g", title="Estonia", text="EU and NATO")
    assert [m.rule for m in after.match(doc)] == ["a2", "b1"]
    assert [m.rule for m in before.match(doc)] == ["a2"]


def test_a_reload_changes_a_shared_anchor_in_the_new_index_only(tmp_path):
    """Plans anchored on one key (`nato`) across files: a reload that removes some and adds others
    leaves the previous index's anchor sets as they were, and the new one's equal a fresh load's."""
    _write(tmp_path / "a.yaml", {"rules": [{"id": f"a{i}", "query": f"nato OR alpha{i}"} for i in range(3)]})
    _write(tmp_path / "b.yaml", {"rules": [{"id": "b0", "query": "nato OR beta"}, {"id": "b1", "query": "nato OR delta"}]})
    watcher = RuleWatcher(tmp_path)
    assert not watcher.errors, watcher.errors
    before = watcher.current
    anchors_before = {k: set(v) for k, v in before._compiled.by_key.items()}
    _write(tmp_path / "b.yaml", {"rules": [{"id": "b2", "query": "nato OR gamma"}]})
    assert watcher.refresh()
    after = watcher.current
    assert {k: set(v) for k, v in before._compiled.by_key.items()} == anchors_before
    assert all(type(v) is frozenset for v in after._compiled.by_key.values())
    fresh = load_rules(tmp_path)
    # the same plans under each key, refs read as rule positions (a reload numbers new rules on)
    assert ({k: {after._rank[r] for r in v} for k, v in after._compiled.by_key.items()}
            == {k: {fresh._rank[r] for r in v} for k, v in fresh._compiled.by_key.items()})
    assert len(after._compiled.by_key[" nato "]) == 4 and len(anchors_before[" nato "]) == 5
