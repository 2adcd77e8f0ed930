"""The rule pack is exact on its own examples (tests/rulepack/examples/), as bench/rulepack.py measures."""

from __future__ import annotations

import pytest
import yaml

from ._pack import RULES, load_bench

REQUIRED = {
    "kallas", "rutte", "trump-europe", "weber", "merz", "starmer", "zelenskyy", "putin", "vance", "orban",
    "greenland", "safe", "rearm-europe", "defence-union", "eda", "ukraine-military-aid", "frozen-assets",
    "nuclear-deterrent", "defence-spending-target",
}
EXAMPLES = load_bench().load_examples()


def pack_rules() -> list[dict]:
    rules = []
    for path in sorted(RULES.glob("*.yaml")):
        rules += (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("rules") or []
    return rules


def test_pack_loads_without_errors(ruleset):
    assert ruleset is not None


def test_pack_has_the_required_rules_well_described():
    rules = {r["id"]: r for r in pack_rules()}
    assert REQUIRED <= set(rules), sorted(REQUIRED - set(rules))
    for rid, rule in rules.items():
        assert rule.get("title"), rid
        assert set(rule.get("tags") or []) & {"actor", "initiative", "place"}, rid
        assert rule.get("priority") in {"high", "normal", "low"}, rid
    for rid in ("greenland", "safe", "rearm-europe", "defence-union"):
        assert rules[rid]["priority"] == "high", rid


def test_every_rule_has_enough_examples():
    ids = {r["id"] for r in pack_rules()}
    assert ids == set(EXAMPLES), f"rules without examples: {sorted(ids - set(EXAMPLES))}; " \
                                 f"examples without rule: {sorted(set(EXAMPLES) - ids)}"
    for rid, kinds in EXAMPLES.items():
        assert len(kinds["positive"]) >= 4, rid
        assert len(kinds["negative"]) >= 4, rid


@pytest.mark.parametrize("rule", sorted(EXAMPLES))
def test_precision_and_recall_are_one(bench, ruleset, rule):
    [score] = bench.score(ruleset, {rule: EXAMPLES[rule]})
    assert score.misses == []
    assert (score.precision, score.recall) == (1.0, 1.0)


def test_the_bench_exits_zero_and_prints_the_table(bench, capsys):
    assert bench.main([]) == 0
    out = capsys.readouterr().out
    assert "precision" in out and "safe" in out and "below 1.0: 0" in out


def test_the_bench_fails_on_a_bad_rule(bench, tmp_path, capsys):
    # a pack whose safe rule takes the lowercase word: the bench must see the false positive
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "safe.yaml").write_text(
        "rules:\n  - id: safe\n    query: 'safe OR SAFE'\n", encoding="utf-8")
    examples = tmp_path / "examples"
    examples.mkdir()
    (examples / "safe.yaml").write_text(yaml.safe_dump({
        "rule": "safe",
        "positive": ["The SAFE instrument lends 150 billion euros."],
        "negative": ["Is it safe to travel?"]}), encoding="utf-8")
    assert bench.main(["--rules", str(rules), "--examples", str(examples)]) == 1
    assert "fired on negative" in capsys.readouterr().out
