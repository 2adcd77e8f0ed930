"""Each false-friend defence of the pack is load-bearing: take it away and a negative fires.

For every case, the shipped pack stays quiet on the text, and a copy of the pack with that one
defence removed (a key dropped or the query rewritten) fires on it. This keeps the `ignore`,
`exclude`, `min_hits` and case-sensitive forms from rotting into decoration.
"""

from __future__ import annotations

import pytest
import yaml

from monitor.models import Article

from ._pack import RULES

CASES = [
    # (rule, change, text)
    ("kallas", {"drop": "exclude"},
     "Siim Kallas, the former EU transport commissioner, spoke in Tallinn. Kallas said Estonia joined the euro "
     "too late."),
    ("safe", {"replace": ("{SAFE}", "SAFE")},
     "Brussels says the new loan scheme is safe for member states with high debt."),
    ("safe", {"drop": "ignore exclude"},
     "The SAFE Banking Act would give cannabis firms loans from US banks, European investors said."),
    ("putin", {"drop": "min_hits"},
     "Three years after Putin ordered the invasion, the Ukrainian economy is growing again."),
    ("trump-europe", {"query": "Trump NEAR/25 @europe-security"},
     "The European champions played their trump card in the final minute to win the cup."),
    ("defence-union", {"drop": "ignore"},
     "The Commission's action plan for the European Pillar of Social Rights promises job security for workers."),
    ("orban", {"drop": "exclude"},
     "Romanian prime minister Ludovic Orban resigned after the vote. Orban said the EU funds were safe."),
    ("vance", {"drop": "exclude"},
     "Manhattan District Attorney Cyrus Vance subpoenaed Trump's tax returns. Vance's office declined to comment."),
    ("merz", {"drop": "ignore"},
     "Merz Aesthetics, the Frankfurt-based German drugmaker, reported higher sales of fillers."),
    # two defences keep the first lady out: the spelled-out names (not Zelensk*) and the
    # exclude for stories led by her; take both away and her story fires
    ("zelenskyy", {"query": "Zelensk*", "drop": "exclude"},
     "Olena Zelenska opened a library of Ukrainian books in Vilnius."),
    # a mention as an attribute of someone else (adviser, office, ally) is not the person's
    ("zelenskyy", {"query": "@zelenskyy AND (@zelenskyy NOT NEAR/2 (@leaders OR Starmer OR {Keir} OR {Merz}))"},
     "Mykhailo Podolyak, an adviser to President Zelensky, spoke to the paper."),
    ("putin", {"query": "@putin"},
     "Dmitry Medvedev, a close ally of Vladimir Putin and long close to Putin, warned of nuclear war."),
]


def doc(text: str) -> Article:
    return Article(url="example:false-friend", feed_url="", guid="ff", title="", text=text)


def weakened_pack(tmp_path, rule_id: str, change: dict):
    """A copy of rules/ in tmp_path with one defence of one rule taken away."""
    from monitor.match import load_rules
    out = tmp_path / "rules"
    out.mkdir()
    found = False
    for path in sorted(RULES.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for rule in data.get("rules") or []:
            if rule["id"] != rule_id:
                continue
            found = True
            for key in change.get("drop", "").split():
                assert key in rule, f"{rule_id} has no {key} to drop"
                del rule[key]
            if "replace" in change:
                old, new = change["replace"]
                assert old in rule["query"], f"{rule_id}: {old} not in query"
                rule["query"] = rule["query"].replace(old, new)
            if "query" in change:
                rule["query"] = change["query"]
        (out / path.name).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    assert found, rule_id
    return load_rules(out)


@pytest.mark.parametrize(("rule", "change", "text"), CASES, ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(CASES)])
def test_defence_is_load_bearing(ruleset, tmp_path, rule, change, text):
    assert rule not in {m.rule for m in ruleset.match(doc(text))}, "the shipped pack fires on a false friend"
    weak = weakened_pack(tmp_path, rule, change)
    assert rule in {m.rule for m in weak.match(doc(text))}, "without the defence the text should fire"
