"""Benchmark: rule matching throughput against rule count, beside naive baselines.

Corpus: the 181 ground-truth article texts of the extraction benchmark (real lengths,
about 4.5 kB each). Rules: generated from the corpus's own vocabulary (two-word phrases,
rare words, prefixes, NEAR pairs, case-sensitive forms, excludes), so most rules fire
on few articles, as real watch rules do.

    .venv/bin/python bench/match.py [--sizes 10,100,1000,10000] [--seconds 1.5] [--corpus-share 0.1]

Prints articles/s for the compiled automaton (monitor.match), a naive loop of one
regex per rule, and `grep -F -i -f` over the same text with the same leaf terms.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))

from monitor.match import load_rules  # noqa: E402
from monitor.match.text import normalise  # noqa: E402
from monitor.models import Article  # noqa: E402


def corpus() -> list[Article]:
    path = SHARED / "corpora" / "extraction-benchmark" / "ground-truth.json"
    if not path.exists():
        raise SystemExit(f"missing {path}: shared/ must sit beside the repository")
    data = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for key, item in sorted(data.items()):
        body = item["articleBody"]
        title, _, text = body.partition("\n")
        out.append(Article(url=item.get("url", key), feed_url="bench", guid=key, title=title[:200], text=text))
    return out


class _Terms:
    def __init__(self, rng: random.Random, words: list[str], bigrams: list, known: set, share: float):
        self.rng, self.words, self.bigrams, self.known, self.share = rng, words, bigrams, known, share

    def made_up(self) -> str:
        rng = self.rng
        while True:
            w = "".join(rng.choice("bcdfgklmnprstvz") + rng.choice("aeiou") for _ in range(rng.randint(3, 4)))
            if w not in self.known:
                return w

    def word(self) -> str:
        return self.rng.choice(self.words) if self.rng.random() < self.share else self.made_up()

    def phrase(self) -> str:
        if self.rng.random() < self.share:
            return " ".join(self.rng.choice(self.bigrams))
        return f"{self.made_up()} {self.made_up()}"


def generate_rules(docs: list[Article], n: int, corpus_share: float = 0.1, seed: int = 7) -> list[dict]:
    """n rules; a share of their terms comes from the corpus (so they fire), the rest are
    made-up names, like the people and programmes of a real watch list that are absent
    from most of a day's news."""
    rng = random.Random(seed)
    df: Counter = Counter()
    bigrams: list[tuple[str, str]] = []
    for d in docs:
        toks = normalise(d.text)
        df.update(set(toks))
        bigrams.extend(zip(toks, toks[1:], strict=False))
    words = sorted(w for w, c in df.items() if 1 <= c <= len(docs) // 10 and len(w) >= 4 and w.isalpha())

    terms = _Terms(rng, words, bigrams, set(df), corpus_share)
    word, phrase = terms.word, terms.phrase
    rules = []
    for i in range(n):
        kind = i % 5
        a, b = word(), word()
        if kind == 0:
            q = f'"{phrase()}" OR "{phrase()}"'
        elif kind == 1:
            q = f"{a} NEAR/10 ({b} OR {word()})"
        elif kind == 2:
            q = f"{a[:5]}* AND {b}"
        elif kind == 3:
            q = f"{{{a.capitalize()}}} OR title:{b}"
        else:
            q = f"{a} AND NOT {b}"
        rule = {"id": f"r{i}", "query": q}
        if i % 7 == 0:
            rule["exclude"] = word()
        rules.append(rule)
    return rules


def leaf_terms(rules: list[dict]) -> list[list[str]]:
    """Per rule, its positive leaf terms as plain strings (for the baselines)."""
    out = []
    for r in rules:
        q = r["query"].split(" AND NOT ")[0]
        terms = re.findall(r'"([^"]+)"|\{([^}]+)\}|(?:title:)?([\w*]+)', q)
        out.append([next(t for t in g if t).rstrip("*") for g in terms
                    if next(t for t in g if t) not in ("OR", "AND", "NOT") and not next(t for t in g if t).startswith("NEAR")])
    return out


def timed(fn, docs, seconds: float) -> float:
    """Best articles/s of fn over docs in three rounds of seconds/3 (the machine is shared)."""
    best = 0.0
    for _ in range(3):
        done, start = 0, time.perf_counter()
        while True:
            for d in docs:
                fn(d)
            done += len(docs)
            elapsed = time.perf_counter() - start
            if elapsed >= seconds / 3:
                break
        best = max(best, done / elapsed)
    return best


def naive(rules: list[dict], docs: list[Article], seconds: float) -> float:
    regexes = [re.compile("|".join(r"\b" + re.escape(t) for t in terms), re.IGNORECASE)
               for terms in leaf_terms(rules)]

    def run(d):
        blob = d.title + "\n" + d.text
        return [rx for rx in regexes if rx.search(blob)]
    sample = docs[: max(5, min(len(docs), 20000 // max(1, len(rules))))]
    return timed(run, sample, seconds)


def grep(rules: list[dict], docs: list[Article]) -> float | None:
    if not shutil.which("grep"):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        pats = Path(tmp) / "p.txt"
        text = Path(tmp) / "t.txt"
        pats.write_text("\n".join(sorted({t for ts in leaf_terms(rules) for t in ts})) + "\n", encoding="utf-8")
        reps = 20
        text.write_text("".join((d.title + " " + d.text).replace("\n", " ") + "\n" for d in docs) * reps,
                        encoding="utf-8")
        start = time.perf_counter()
        subprocess.run(["grep", "-F", "-i", "-c", "-f", str(pats), str(text)], stdout=subprocess.DEVNULL, check=False)
        return len(docs) * reps / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10,100,1000,10000")
    ap.add_argument("--seconds", type=float, default=1.5)
    ap.add_argument("--corpus-share", type=float, default=0.1,
                    help="share of rule terms taken from the corpus (1.0: every term occurs somewhere)")
    args = ap.parse_args()
    docs = corpus()
    mb = sum(len(d.title) + len(d.text) for d in docs) / 1e6
    print(f"corpus: {len(docs)} articles, {mb:.2f} M characters; one core, {args.seconds:.1f} s per cell; "
          f"corpus share of rule terms {args.corpus_share}")
    print(f"{'rules':>7} {'load+compile s':>15} {'monitor art/s':>14} {'fired/art':>10} "
          f"{'naive regex art/s':>18} {'grep -F -i art/s':>17}")
    base = None
    for n in (int(x) for x in args.sizes.split(",")):
        rules = generate_rules(docs, n, args.corpus_share)
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "r.yaml").write_text(yaml.safe_dump({"rules": rules}), encoding="utf-8")
            t0 = time.perf_counter()
            rs = load_rules(tmp)
            build = time.perf_counter() - t0
        fired = sum(len(rs.match(d)) for d in docs) / len(docs)
        ours = timed(rs.match, docs, args.seconds)
        base = base or ours
        nv = naive(rules, docs, args.seconds)
        gp = grep(rules, docs)
        print(f"{n:>7} {build:>15.2f} {ours:>14.0f} {fired:>10.2f} {nv:>18.1f} {gp or 0:>17.0f}"
              f"   (x{base / ours:.2f} vs smallest)")


if __name__ == "__main__":
    main()
