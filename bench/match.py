"""Benchmark: rule matching throughput against rule count, beside naive baselines.

Corpus: the 181 ground-truth article texts of the extraction benchmark (real lengths,
about 4.5 kB each). Rules: generated from the corpus's own vocabulary (two-word phrases,
rare words, prefixes, NEAR pairs, case-sensitive forms, excludes), so most rules fire
on few articles, as real watch rules do.

    .venv/bin/python bench/match.py [--sizes 10,100,1000,10000] [--seconds 1.5] [--corpus-share 0.1]
    .venv/bin/python bench/match.py --baseline REV [--sizes 1000] [--rounds 5]
    .venv/bin/python bench/match.py --baseline REV --hostile 2000,8000,18000 [--old-limit 8000]

Prints articles/s for the compiled automaton (monitor.match), a naive loop of one
regex per rule, and `grep -F -i -f` over the same text with the same leaf terms.

With --baseline REV (a commit, e.g. the one before a change of the engine) it checks that
commit out into a temporary git worktree and runs both engines, each in its own process
(bench/match_engine.py), on the same generated rules in the same run, alternating
rounds of --seconds/3 between them so that a busy machine slows both alike, and prints
the best articles/s of each and their ratio, by the wall clock and by each process's
own CPU time (steadier on a shared machine). The worktree is removed afterwards. With
--hostile it times instead one article that repeats "NATO" and "more European" N times
against the rule pack of REV (issue 15: quadratic NEAR in the old engine).
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
from contextlib import contextmanager
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))

from monitor.match import load_rules  # noqa: E402
from monitor.match.text import normalise  # noqa: E402
from monitor.models import Article  # noqa: E402

CORPUS = SHARED / "corpora" / "extraction-benchmark" / "ground-truth.json"


def corpus() -> list[Article]:
    path = CORPUS
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


@contextmanager
def worktree(rev: str):
    """A temporary git worktree of rev (detached), removed afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="match-baseline-"))
    path = tmp / "tree"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(path), rev], check=True)
    try:
        yield path
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], check=False)
        shutil.rmtree(tmp, ignore_errors=True)


class Engine:
    """One engine (a checkout) in a child process, loaded with one rules file."""

    def __init__(self, root: Path, rules: Path):
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "match_engine.py"), "--root", str(root), "--rules", str(rules),
             "--corpus", str(CORPUS)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.info = self._reply()
        self.best = 0.0
        self.best_cpu = 0.0

    def _reply(self) -> dict:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("a matching engine died; see its error above")
        return json.loads(line)

    def run(self, seconds: float) -> float:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"run {seconds}\n")
        self.proc.stdin.flush()
        reply = self._reply()
        self.best = max(self.best, float(reply["rate"]))
        self.best_cpu = max(self.best_cpu, float(reply["cpu_rate"]))
        return self.best

    def one(self, path: Path) -> dict:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"one {path}\n")
        self.proc.stdin.flush()
        return self._reply()

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


def compare(rev: str, sizes: list[int], seconds: float, rounds: int, share: float) -> None:
    docs = corpus()
    label = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", rev], capture_output=True,
                           text=True, check=True).stdout.strip()
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    print(f"corpus: {len(docs)} articles; engines: this tree ({head}, with its working changes) and {label} "
          f"(a git worktree); {rounds} alternating rounds of {seconds / 3:.1f} s each; best of each")
    print(f"{'rules':>7} {'build new s':>12} {'build old s':>12} {'new art/s':>10} {'old art/s':>10} "
          f"{'new/old':>8} {'new art/cpu-s':>14} {'old art/cpu-s':>14} {'new/old':>8} {'fired/art new, old':>19}")
    with worktree(rev) as old_root, tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            rules = Path(tmp) / f"r{n}.yaml"
            rules.write_text(yaml.safe_dump({"rules": generate_rules(docs, n, share)}), encoding="utf-8")
            new, old = Engine(ROOT, rules), Engine(old_root, rules)
            try:
                for i in range(rounds):
                    for engine in (new, old) if i % 2 == 0 else (old, new):
                        engine.run(seconds / 3)
            finally:
                new.close()
                old.close()
            print(f"{n:>7} {new.info['build']:>12.2f} {old.info['build']:>12.2f} {new.best:>10.0f} "
                  f"{old.best:>10.0f} {new.best / old.best:>8.3f} {new.best_cpu:>14.0f} {old.best_cpu:>14.0f} "
                  f"{new.best_cpu / old.best_cpu:>8.3f} "
                  f"{new.info['fired']:>9.2f}, {old.info['fired']:.2f}")


def hostile(rev: str, repeats: list[int], old_limit: int) -> None:
    """Issue 15's hostile article: "NATO" N times, then "more European" N times, never within
    5 tokens of each other (the pairwise NEAR check compares all N x N pairs of the pack's
    `NATO NEAR/5 "more European"`), against the rule pack shipped at rev (v1 rules)."""
    print(f"hostile article: 'NATO. ' x N, 6 other words, 'more European. ' x N, against {rev}'s rules/; "
          f"CPU seconds for one match (old engine only up to N = {old_limit})")
    print(f"{'N':>7} {'MB':>6} {'new s':>8} {'old s':>8}  rules fired (new)")
    with worktree(rev) as old_root, tempfile.TemporaryDirectory() as tmp:
        new, old = Engine(ROOT, old_root / "rules"), Engine(old_root, old_root / "rules")
        try:
            for n in repeats:
                text = "NATO. " * n + "Then the talks turned elsewhere. " + "more European. " * n
                path = Path(tmp) / f"h{n}.json"
                path.write_text(json.dumps({"title": "Defence", "text": text}), encoding="utf-8")
                got = new.one(path)
                before = old.one(path) if n <= old_limit else None
                if before is not None and before["rules"] != got["rules"]:
                    print(f"  verdicts differ: old {before['rules']}")
                old_s = f"{before['seconds']:>8.2f}" if before else f"{'-':>8}"
                print(f"{n:>7} {len(text) / 1e6:>6.2f} {got['seconds']:>8.3f} {old_s}  {', '.join(got['rules'])}")
        finally:
            new.close()
            old.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10,100,1000,10000")
    ap.add_argument("--seconds", type=float, default=1.5)
    ap.add_argument("--corpus-share", type=float, default=0.1,
                    help="share of rule terms taken from the corpus (1.0: every term occurs somewhere)")
    ap.add_argument("--baseline", metavar="REV",
                    help="also run the engine of this commit (a temporary git worktree) and compare")
    ap.add_argument("--rounds", type=int, default=6, help="alternating rounds per engine with --baseline")
    ap.add_argument("--hostile", metavar="N,N,...",
                    help="with --baseline: time one article repeating 'NATO ... more European' N times instead")
    ap.add_argument("--old-limit", type=int, default=8000, help="largest N the old engine is given with --hostile")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    if args.baseline and args.hostile:
        hostile(args.baseline, [int(x) for x in args.hostile.split(",")], args.old_limit)
        return
    if args.baseline:
        compare(args.baseline, sizes, args.seconds, args.rounds, args.corpus_share)
        return
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
