"""Precision and recall of the shipped rule pack (rules/) over its own examples.

    .venv/bin/python bench/rulepack.py [--rules DIR] [--examples DIR]

Each file tests/rulepack/examples/<rule>.yaml holds `rule:`, `positive:` and `negative:`;
an example is a string (the article text) or a mapping with `title`, `summary`, `text`.
For a rule, a positive it fires on is a true positive, a positive it misses a false
negative, a negative it fires on a false positive (the other rules are not looked at:
a Greenland story may well also be a Trump story). Prints a table and every miss;
exits 1 if any rule is below 1.0 in precision or recall, or has no examples file.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from monitor.models import Article

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "rules"
EXAMPLES = REPO / "tests" / "rulepack" / "examples"


def make_doc(example: str | dict, name: str) -> Article:
    """An article from an example: a string is the text; a mapping gives title/summary/text."""
    if isinstance(example, str):
        example = {"text": example}
    return Article(url=f"example:{name}", feed_url="", guid=name, title=example.get("title", ""),
                   summary=example.get("summary", ""), text=example.get("text", ""))


def load_examples(folder: Path = EXAMPLES) -> dict[str, dict[str, list[Article]]]:
    """rule id -> {"positive": [...], "negative": [...]} from every *.yaml in folder."""
    out: dict[str, dict[str, list[Article]]] = {}
    for path in sorted(folder.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        rule = data["rule"]
        if rule in out:
            raise ValueError(f"{path}: examples for {rule!r} defined twice")
        out[rule] = {kind: [make_doc(ex, f"{path.stem}:{kind}:{i}") for i, ex in enumerate(data.get(kind) or [])]
                     for kind in ("positive", "negative")}
    return out


@dataclass
class Score:
    rule: str
    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0


def _snippet(doc: Article) -> str:
    text = " | ".join(x for x in (doc.title, doc.summary, doc.text) if x)
    return text if len(text) <= 100 else text[:97] + "..."


def score(ruleset, examples: dict[str, dict[str, list[Article]]]) -> list[Score]:
    """One Score per rule that has examples, in the examples' order."""
    scores = []
    for rule, kinds in examples.items():
        s = Score(rule)
        for doc in kinds["positive"]:
            if rule in {m.rule for m in ruleset.match(doc)}:
                s.tp += 1
            else:
                s.fn += 1
                s.misses.append(f"{rule}: missed positive: {_snippet(doc)}")
        for doc in kinds["negative"]:
            if rule in {m.rule for m in ruleset.match(doc)}:
                s.fp += 1
                s.misses.append(f"{rule}: fired on negative: {_snippet(doc)}")
            else:
                s.tn += 1
        scores.append(s)
    return scores


def rule_ids(folder: Path = RULES) -> list[str]:
    """Every rule id in the pack, read from the YAML (independent of the engine)."""
    ids = []
    for path in sorted([*folder.rglob("*.yaml"), *folder.rglob("*.yml")]):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        ids += [r["id"] for r in data.get("rules") or []]
    return ids


def table(scores: list[Score]) -> str:
    lines = [f"{'rule':<26} {'pos':>4} {'neg':>4} {'TP':>4} {'FN':>4} {'FP':>4} {'precision':>10} {'recall':>7}"]
    for s in scores:
        lines.append(f"{s.rule:<26} {s.tp + s.fn:>4} {s.fp + s.tn:>4} {s.tp:>4} {s.fn:>4} {s.fp:>4} "
                     f"{s.precision:>10.2f} {s.recall:>7.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rules", type=Path, default=RULES)
    ap.add_argument("--examples", type=Path, default=EXAMPLES)
    args = ap.parse_args(argv)

    from monitor.errors import RuleError
    from monitor.match import load_rules
    try:
        ruleset = load_rules(args.rules)
    except RuleError as exc:
        print("\n".join(exc.messages), file=sys.stderr)
        return 2
    examples = load_examples(args.examples)
    scores = score(ruleset, examples)
    print(table(scores))
    bad = [s for s in scores if s.precision < 1.0 or s.recall < 1.0]
    missing = sorted(set(rule_ids(args.rules)) - set(examples))
    for s in scores:
        for miss in s.misses:
            print(miss)
    if missing:
        print("rules without examples: " + ", ".join(missing))
    print(f"{len(scores)} rules, {sum(s.tp + s.fn for s in scores)} positives, "
          f"{sum(s.fp + s.tn for s in scores)} negatives; below 1.0: {len(bad)}")
    return 1 if bad or missing else 0


if __name__ == "__main__":
    sys.exit(main())
