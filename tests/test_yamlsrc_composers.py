"""yamlsrc: libyaml's C composer and PyYAML's Python one give the same values, positions
and errors (the C one is used where libyaml caps nesting itself, yamlsrc.C_COMPOSER)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.config import yamlsrc

REPO = Path(__file__).resolve().parents[1]


def dump(value: object, out: list) -> list:
    """Every value with its type, position and style, in document order."""
    if isinstance(value, dict):
        out.append(("map", value.line, value.col, sorted(value.key_pos.items(), key=repr)))
        for k, v in value.items():
            dump(k, out)
            dump(v, out)
    elif isinstance(value, list):
        out.append(("seq", value.line, value.col))
        for v in value:
            dump(v, out)
    else:
        out.append((type(value).__name__, repr(value), getattr(value, "line", None),
                    getattr(value, "col", None), getattr(value, "style", None)))
    return out


def outcome(text: str, c_composer: bool, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setattr(yamlsrc, "C_COMPOSER", c_composer)
    try:
        return dump(yamlsrc.load(text, "f.yaml", max_alias_values=50), [])
    except yaml.YAMLError as exc:
        return yamlsrc.error_location(exc, "f.yaml")


def nested(levels: int, flow: bool) -> str:
    if flow:
        return "[" * (levels - 1) + "x" + "]" * (levels - 1) + "\n"
    return "".join("  " * i + "k:\n" for i in range(levels - 1)) + "  " * (levels - 1) + "v\n"


DOCS = [
    "",
    "a: 1\nb: [x, 'y', \"z\"]\nc: {d: 2.5, e: null, f: true}\n",
    "rules:\n  - id: a\n    query: |\n      kallas\n      NEAR/5 nato\n    tags: >\n      folded text\n",
    "a: &x {k: [1, 2]}\nb: *x\nc: [*x, *x]\n",
    "base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n",
    "base: &b {x: 1}\nd: {<<: [*b, {z: 2}], =: v, w: 1}\n",
    "? complex key\n: value\n[1, 2]: seq key\n",
    "a: 0x1F\nb: 1_000\nc: 2026-12-03\nd: ~\ne: .inf\nf: 'Grønland'\ng: Кая Калас\n",
    "a: b\n---\nc: d\n",                                  # two documents
    "a: *nowhere\n",                                     # undefined alias
    "a: [1, *nowhere]\n",
    "ééé: [Кая, *nowhere]\n",
    "a: [1, 2\n",                                        # unclosed flow sequence
    "a: !!python/object/apply:os.system ['true']\n",     # refused tag
    "rules: &r\n  - *r\n",                               # an anchor inside itself
    "l0: &l0 [a, a, a, a, a, a, a, a]\nl1: &l1 [*l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0]\n",  # over the cap
    nested(100, True), nested(101, True), nested(100, False), nested(101, False),
    nested(1500, True), nested(1500, False),
]


def test_the_c_composer_is_in_use():
    """The PyYAML wheels monitor installs carry libyaml 0.2.5, which caps nesting."""
    assert yamlsrc.C_COMPOSER


@pytest.mark.parametrize("text", DOCS)
def test_both_composers_agree(text, monkeypatch):
    assert outcome(text, True, monkeypatch) == outcome(text, False, monkeypatch)


def test_both_composers_agree_on_the_shipped_rules_and_config(monkeypatch):
    files = sorted((REPO / "rules").glob("*.yaml")) + sorted((REPO / "config").glob("*.yaml"))
    assert len(files) >= 5
    for f in files:
        text = f.read_text(encoding="utf-8")
        assert outcome(text, True, monkeypatch) == outcome(text, False, monkeypatch), f


@pytest.mark.parametrize("flow", [True, False])
def test_nesting_is_limited_at_max_depth_with_a_position(flow):
    assert yamlsrc.load(nested(yamlsrc.MAX_DEPTH, flow)) is not None
    for levels in (yamlsrc.MAX_DEPTH + 1, 1500):
        with pytest.raises(yamlsrc.YAMLLimitError) as info:
            yamlsrc.load(nested(levels, flow), "deep.yaml")
        msg = yamlsrc.error_location(info.value, "deep.yaml")
        assert msg.startswith("deep.yaml:") and "YAML refused: nested more than 100 levels deep" in msg


scalars = st.one_of(st.integers(-10**6, 10**6), st.booleans(), st.none(),
                    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text("abcxyz", min_size=1, max_size=3), inner, max_size=4)),
    max_leaves=25)


@settings(max_examples=150, deadline=None)
@given(value=values, flow=st.sampled_from([None, True, False]), width=st.sampled_from([20, 80]))
def test_both_composers_agree_on_generated_documents(value, flow, width):
    text = yaml.safe_dump({"doc": value, "again": value}, default_flow_style=flow, width=width,
                          allow_unicode=True)
    with pytest.MonkeyPatch.context() as mp:
        assert outcome(text, True, mp) == outcome(text, False, mp)


def test_merge_keys_and_value_keys_are_flattened():
    doc = yamlsrc.load("base: &b {x: 1, y: 2}\nd: {<<: [*b, {z: 3}], y: 9, =: v}\ne: {k: 1}\n", "m.yaml")
    assert doc["d"] == {"x": 1, "y": 9, "z": 3, "=": "v"}
    assert doc["e"] == {"k": 1} and doc["d"].where_key("y") == "m.yaml:2:23"
