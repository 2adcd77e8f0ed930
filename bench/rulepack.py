"""Precision and recall of the shipped rule pack (rules/) over its own examples or real texts.

    .venv/bin/python bench/rulepack.py [--rules DIR] [--examples DIR]
    .venv/bin/python bench/rulepack.py --real [DIR] [--split tune|held|all] [--misses]

Each file tests/rulepack/examples/<rule>.yaml holds `rule:`, `positive:` and `negative:`;
an example is a string (the article text) or a mapping with `title`, `summary`, `text`.
For a rule, a positive it fires on is a true positive, a positive it misses a false
negative, a negative it fires on a false positive (the other rules are not looked at:
a Greenland story may well also be a Trump story). Prints a table and every miss;
exits 1 if any rule is below 1.0 in precision or recall, or has no examples file.

With --real, the cases are the real-world development set of bench/realset/: its
manifest.jsonl (committed: URL, search query, language, labels, reason, split) and the
excerpts in bench/realset/texts/ (not committed: third-party text; bench/realset/README.md
says how to rebuild them). Every case is scored for every rule: a case is a positive for
the rules in its labels and a negative for all the others. A text is read the way
`monitor match` reads a .txt file (first line: the title, when it is headline-sized; the
rest: the text). The tables are printed per
half (tune, held) and for both; a missing texts folder or missing texts are reported
and the exit status is 2, except with --exact, which scores only the byte-exact texts
and says on standard error how many approximate and missing texts it left out (a partial
rebuild). Real texts are not expected at 1.0: the exit status is 0.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from monitor.models import Article

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "rules"
EXAMPLES = REPO / "tests" / "rulepack" / "examples"
REALSET = REPO / "bench" / "realset"


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


TITLE_MAX_CHARS = 160


def txt_article(content: str, url: str, guid: str) -> Article:
    """An excerpt as an article: like `monitor match` reads a .txt file (the first line is
    the title, the rest the text), but only when that first line is headline-sized and
    more follows; a first line that is a whole paragraph stays text (a title is one
    sentence for NEAR/s, and a paragraph-long "title" would make it a paragraph)."""
    lines = content.strip().splitlines()
    if len(lines) > 1 and len(lines[0].strip()) <= TITLE_MAX_CHARS:
        return Article(url=url, feed_url="", guid=guid, title=lines[0].strip(),
                       text="\n".join(lines[1:]).strip())
    return Article(url=url, feed_url="", guid=guid, title="", text=content.strip())


def load_real(folder: Path = REALSET) -> tuple[list[dict], list[str]]:
    """The manifest's cases with their texts (key "doc"), and the problems found."""
    manifest = folder / "manifest.jsonl"
    texts = folder / "texts"
    if not manifest.is_file():
        return [], [f"no manifest at {manifest}"]
    cases = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not texts.is_dir():
        return [], [f"the real texts are missing: no folder {texts} ({len(cases)} cases in the manifest); "
                    f"rebuild it as {folder / 'README.md'} describes"]
    problems = []
    found = []
    for case in cases:
        path = texts / f"{case['id']}.txt"
        if not path.is_file():
            problems.append(f"missing text {path.name} ({case['url']}; query: {case['query']!r})")
            continue
        case = dict(case)
        content = path.read_text(encoding="utf-8")
        case["exact"] = hashlib.sha256(content.strip().encode()).hexdigest() == case.get("sha256")
        case["doc"] = txt_article(content, case["url"], case["id"])
        found.append(case)
    return found, problems


def score_real(ruleset, cases: list[dict], rules: list[str]) -> list[Score]:
    """One Score per rule over every case (labels say which rules should fire)."""
    fired = {case["id"]: {m.rule for m in ruleset.match(case["doc"])} for case in cases}
    scores = []
    for rule in rules:
        s = Score(rule)
        for case in cases:
            want, got = rule in case["labels"], rule in fired[case["id"]]
            if want and got:
                s.tp += 1
            elif want:
                s.fn += 1
                s.misses.append(f"{rule}: missed [{case['split']} {case['id']} {case['lang']}] {case['reason']}")
            elif got:
                s.fp += 1
                s.misses.append(f"{rule}: fired [{case['split']} {case['id']} {case['lang']}] {case['reason']}")
            else:
                s.tn += 1
        scores.append(s)
    return scores


def main_real(ruleset, rules_dir: Path, folder: Path, split: str, show_misses: bool, exact: bool = False) -> int:
    cases, problems = load_real(folder)
    if exact:  # only the texts that are byte-for-byte the stored excerpt (sha256 of the manifest)
        found = len(cases)
        cases = [c for c in cases if c["exact"]]
        missing = [p for p in problems if p.startswith("missing text ")]
        if cases and len(missing) == len(problems):
            # a partial rebuild scores as an exact subset, said loudly: never mistaken for the full set
            print(f"--exact: scoring {len(cases)} byte-exact texts; {found - len(cases)} approximate and "
                  f"{len(missing)} missing texts left out", file=sys.stderr)
            problems = []
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 2
    rules = sorted(rule_ids(rules_dir))
    halves = ["tune", "held"] if split == "all" else [split]
    for half in halves + (["all"] if split == "all" else []):
        subset = [c for c in cases if half == "all" or c["split"] == half]
        scores = score_real(ruleset, subset, rules)
        langs = len({c["lang"] for c in subset})
        print(f"== {half}: {len(subset)} cases, {langs} languages, "
              f"{sum(not c['labels'] for c in subset)} with no rule to fire")
        print(table(scores))
        if show_misses and half != "all":
            for s in scores:
                for miss in s.misses:
                    print("  " + miss)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rules", type=Path, default=RULES)
    ap.add_argument("--examples", type=Path, default=EXAMPLES)
    ap.add_argument("--real", nargs="?", type=Path, const=REALSET, default=None, metavar="DIR",
                    help="score the real-world set (manifest.jsonl + texts/) instead of the examples")
    ap.add_argument("--split", choices=["tune", "held", "all"], default="all",
                    help="with --real: which half to score (default: both, then all)")
    ap.add_argument("--misses", action="store_true", help="with --real: list every miss and false alarm")
    ap.add_argument("--exact", action="store_true",
                    help="with --real: score only the texts whose checksum is the manifest's (a rebuilt "
                         "text may be an approximate selection of the excerpt, see bench/realset/README.md)")
    args = ap.parse_args(argv)

    from monitor.errors import RuleError
    from monitor.match import load_rules
    try:
        ruleset = load_rules(args.rules)
    except RuleError as exc:
        print("\n".join(exc.messages), file=sys.stderr)
        return 2
    if args.real is not None:
        return main_real(ruleset, args.rules, args.real, args.split, args.misses, args.exact)
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
