"""Every error class of the contract, reported as FILE:LINE:COL: message, all at once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor.errors import RuleError
from monitor.match import load_rules


def errors(tmp: Path, body: str, name: str = "r.yaml") -> list[str]:
    (tmp / name).write_text(body, encoding="utf-8")
    with pytest.raises(RuleError) as info:
        load_rules(tmp)
    return info.value.messages


def one_rule(query: str, extra: str = "") -> str:
    return f"rules:\n  - id: r\n    query: '{query}'\n{extra}"


# (yaml body, expected line, expected col, message fragment); the query sits at line 3, col 12
CASES = [
    (one_rule("(Kallas OR Rutte"), 3, 13, "unclosed '('"),
    (one_rule("Kallas OR Rutte)"), 3, 28, "unmatched ')'"),
    (one_rule('Kallas "Kaja'), 3, 20, "unclosed quote"),
    (one_rule("Kallas {SAFE"), 3, 20, "unclosed '{'"),
    (one_rule("Kallas }"), 3, 20, "unmatched '}'"),
    (one_rule("Kallas SAFE}"), 3, 24, "unmatched '}'"),
    (one_rule("Kallas AND"), 3, 20, "AND needs an operand"),
    (one_rule("OR Kallas"), 3, 13, "OR needs an operand on its left"),
    (one_rule("Kallas OR OR Rutte"), 3, 23, "OR needs an operand"),
    (one_rule("Kallas AND NOT"), 3, 24, "NOT needs an operand"),
    (one_rule("Kallas NEAR Rutte"), 3, 20, "NEAR needs a distance"),
    (one_rule("Kallas NEAR/x Rutte"), 3, 20, "positive whole number"),
    (one_rule("Kallas NEAR/5 (EU AND NATO)"), 3, 20, "NEAR can only join"),
    (one_rule("Kallas NEAR/5 NOT EU"), 3, 20, "NEAR can only join"),
    (one_rule("@kalas OR Rutte"), 3, 13, "unknown entity @kalas"),
    (one_rule("de* AND Rutte"), 3, 13, "at least 3 characters"),
    (one_rule("Rutte AND body:Kallas"), 3, 23, "unknown field 'body'"),
    (one_rule("NOT war"), 3, 13, "negation alone"),
    (one_rule("Rutte OR NOT war"), 3, 13, "negation alone"),
    (one_rule("Rutte", "    ignore: 'Siim AND Kallas'\n"), 4, 19, "only OR may join ignore terms, not AND"),
    (one_rule("Rutte", "    ignore: 'NOT Siim'\n"), 4, 14, "not NOT"),
    (one_rule("Rutte", "    ignore: 'Siim NEAR/2 Kallas'\n"), 4, 19, "not NEAR"),
    (one_rule("Rutte", "    min_hits: 0\n"), 4, 15, "min_hits"),
    (one_rule("Rutte", "    min_hits: two\n"), 4, 15, "min_hits"),
    (one_rule("Rutte", "    priority: urgent\n"), 4, 15, "priority"),
    (one_rule("Rutte", "    enabled: maybe\n"), 4, 14, "enabled"),
    (one_rule("Rutte", "    tittle: x\n"), 4, 5, "unknown rule key 'tittle'"),
    (one_rule("Rutte", "    languages: [english]\n"), 4, 17, "ISO 639-1"),
    ("rules:\n  - id: Bad_Id\n    query: x\n", 2, 9, "bad rule id"),
    ("rules:\n  - title: x\n    query: x\n", 2, 5, "has no 'id'"),
    ("rules:\n  - id: x\n", 2, 5, "has no 'query'"),
    ("rulez:\n  - id: x\n", 1, 1, "unknown top-level key 'rulez'"),
    ("rules:\n  - id: x\n    query: [a\n", 4, 1, "YAML syntax error"),
    ("entities:\n  kallas:\n    - 'NOT Siim'\nrules: []\n", 3, 8, "negation alone"),
    ("entities:\n  kallas:\n    - '@rutte'\n  rutte: ['Rutte']\nrules: []\n", 3, 8, "another entity"),
    ("entities:\n  Bad Name: ['x']\n", 2, 3, "bad entity name"),
    ('rules:\n  - id: r\n    query: "x \\"Kaja"\n', 3, 15, "unclosed quote"),
    # v2
    (one_rule("Kallas ONEAR Rutte"), 3, 20, "ONEAR needs a distance"),
    (one_rule("Kallas ONEAR/0 Rutte"), 3, 20, "positive whole number"),
    (one_rule("Kallas NEAR/S Rutte"), 3, 20, "write NEAR/s (lowercase)"),
    (one_rule("Kallas NEAR/P Rutte"), 3, 20, "write NEAR/p (lowercase)"),
    (one_rule("Kallas ONEAR/s Rutte"), 3, 20, "ONEAR/s is not a form"),
    (one_rule("Kallas NOT ONEAR/3 Rutte"), 3, 24, "NOT ONEAR is not a form"),
    (one_rule("Kallas NOT NEAR Rutte"), 3, 24, "NEAR needs a distance"),
    (one_rule("Kallas NOT NEAR/x Rutte"), 3, 24, "positive whole number"),
    (one_rule("NOT Kallas NOT NEAR/3 Rutte"), 3, 28, "NOT NEAR: the left side must be positive"),
    (one_rule("Kallas NOT NEAR/3 (EU AND NATO)"), 3, 24, "NOT NEAR can only join"),
    (one_rule("Kallas NEAR/s (EU AND NATO)"), 3, 20, "NEAR can only join"),
    (one_rule("Kallas ONEAR/2 Rutte NEAR/3 EU"), 3, 34, "NEAR can only join"),
    (one_rule("*uni OR Rutte"), 3, 13, "leading wildcard needs at least 4 letters or digits"),
    (one_rule("Rutte OR *e-u*"), 3, 22, "must be a single word"),
    (one_rule("Rutte OR ver*teidigung"), 3, 22, "only allowed at the start or the end"),
    (one_rule("Rutte AND lede:Kallas"), 3, 23, "unknown field 'lede'"),
    (one_rule("Rutte AND lead:"), 3, 23, "needs a word"),
    (one_rule("Rutte", "    ignore: 'Siim ONEAR/2 Kallas'\n"), 4, 19, "not ONEAR"),
    (one_rule("Rutte", "    ignore: 'Siim NOT NEAR/2 Kallas'\n"), 4, 19, "not NOT NEAR"),
    ("rules:\n  - id: r\n    query: |\n      Kallas OR\n      (Rutte\n", 5, 7, "unclosed '('"),
]


@pytest.mark.parametrize("body, line, col, fragment", CASES, ids=[c[3] for c in CASES])
def test_error_class(tmp_path, body, line, col, fragment):
    msgs = errors(tmp_path, body)
    assert len(msgs) == 1, msgs
    m = re.match(r"(.+):(\d+):(\d+): (.*)", msgs[0])
    assert m, msgs[0]
    assert m.group(1) == str(tmp_path / "r.yaml")
    assert fragment in m.group(4)
    assert (int(m.group(2)), int(m.group(3))) == (line, col), msgs[0]


def test_duplicates_across_files_and_every_error_at_once(tmp_path):
    (tmp_path / "a.yaml").write_text("entities:\n  k: ['Kallas']\nrules:\n  - id: r\n    query: x\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "b.yml").write_text("entities:\n  k: ['Kaja']\nrules:\n  - id: r\n    query: y\n"
                               "  - id: s\n    query: (y\n    tittle: z\n")
    msgs = errors(tmp_path, "rules: []\n", name="c.yaml")
    joined = "\n".join(msgs)
    assert len(msgs) == 4, msgs
    assert f"{sub / 'b.yml'}:2:3: entity 'k' is already defined at {tmp_path / 'a.yaml'}:2:3" in joined
    assert f"{sub / 'b.yml'}:4:9: duplicate rule id 'r' (first at {tmp_path / 'a.yaml'}:4:9)" in joined
    assert f"{sub / 'b.yml'}:7:12: rule 's' query: unclosed '('" in joined
    assert "unknown rule key 'tittle'" in joined


def test_valid_set_loads(tmp_path):
    (tmp_path / "ok.yaml").write_text(
        "entities:\n  kallas: ['\"Kaja Kallas\"']\nrules:\n  - id: k\n    query: '@kallas OR {SAFE}'\n")
    rs = load_rules(tmp_path)
    assert [r.id for r in rs.rules] == ["k"]
    assert rs.entities == {"kallas": ('"Kaja Kallas"',)}


def test_entity_in_parentheses_loads_and_matches(tmp_path):
    (tmp_path / "ok.yaml").write_text(
        "entities:\n  kallas: ['\"Kaja Kallas\"']\nrules:\n  - id: k\n    query: '(@kallas) AND (Rutte)'\n")
    rs = load_rules(tmp_path)
    assert [r.id for r in rs.rules] == ["k"]
