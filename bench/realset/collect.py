"""Add real excerpts to the development set: the manifest (committed) and the texts (not).

    .venv/bin/python bench/realset/collect.py add < entries.jsonl
    .venv/bin/python bench/realset/collect.py check
    .venv/bin/python bench/realset/collect.py rebuild [ANSWERS_DIR] [--approx] [--verbose] [--budget=N] [--seconds=S]

`add` reads JSON lines with `url`, `query` (the search tool query that found the page),
`lang` (ISO 639-1), `labels` (rule ids that should fire, a list or a space-separated
string, empty for a negative), `reason` (one line) and `text` (the excerpt as the search
tool's stored page gives it, possibly shortened to the passage that decides the labels).
It writes the text to texts/<id>.txt (ignored by git: third-party text is never
committed) and appends the case to manifest.jsonl with its split.

The id is derived from the URL and the text (sha1), and the split is derived from the id
alone (`tune` or `held`), once, when the case is added: it never changes afterwards and no
case is ever moved between halves. `check` reports which texts are missing or changed.

`rebuild` writes texts/ again from saved search answers (texts/_answers/*.txt, ignored by
git like the texts; see README.md "Rebuilding texts/"): for each case it takes the answer
excerpt whose address is the case's url and finds, by a bounded search, the order-keeping
selection of its sentences or lines whose checksum is the manifest's `sha256`. Cases with
no exact selection are reported (and written only with --approx, as the selection closest
in length, to be read before it is kept).
This module owns the manifest format; it must not score rules (bench/rulepack.py does).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "manifest.jsonl"
TEXTS = HERE / "texts"
KEYS = ("id", "url", "query", "lang", "labels", "reason", "split", "sha256", "chars")


def case_id(url: str, text: str) -> str:
    return hashlib.sha1(f"{url}\n{text}".encode()).hexdigest()[:12]


def split_of(cid: str) -> str:
    """Deterministic half: the id's first hex digit, even -> tune, odd -> held."""
    return "tune" if int(cid[0], 16) % 2 == 0 else "held"


def read_manifest(path: Path | None = None) -> list[dict]:
    path = path or MANIFEST
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def add(lines: list[str]) -> int:
    known = {c["id"] for c in read_manifest()}
    TEXTS.mkdir(exist_ok=True)
    added = 0
    with MANIFEST.open("a", encoding="utf-8") as out:
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                text = raw["text"].strip()
                labels = raw.get("labels") or []
                if isinstance(labels, str):
                    labels = labels.split()
                entry = {"url": raw["url"], "query": raw["query"], "lang": raw["lang"],
                         "labels": sorted(set(labels)), "reason": raw["reason"]}
            except (ValueError, KeyError) as exc:
                print(f"line {n}: skipped: {exc!r}", file=sys.stderr)
                continue
            cid = case_id(entry["url"], text)
            if cid in known:
                print(f"line {n}: {cid} already in the manifest", file=sys.stderr)
                continue
            (TEXTS / f"{cid}.txt").write_text(text + "\n", encoding="utf-8")
            row = {"id": cid, **entry, "split": split_of(cid),
                   "sha256": hashlib.sha256(text.encode()).hexdigest(), "chars": len(text)}
            out.write(json.dumps({k: row[k] for k in KEYS}, ensure_ascii=False) + "\n")
            known.add(cid)
            added += 1
    print(f"added {added}; manifest has {len(known)} cases")
    return 0


def check() -> int:
    bad = 0
    for case in read_manifest():
        path = TEXTS / f"{case['id']}.txt"
        if not path.exists():
            print(f"missing: {case['id']} ({case['url']}; query: {case['query']})")
            bad += 1
        elif hashlib.sha256(path.read_text(encoding="utf-8").strip().encode()).hexdigest() != case["sha256"]:
            print(f"changed: {case['id']}")
            bad += 1
    print(f"{bad} of {len(read_manifest())} texts missing or changed")
    return 1 if bad else 0


SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’»)\]]*(\s+)")


def units_of(excerpt: str) -> list[tuple[str, str]]:
    """(unit, whitespace before it) for each sentence of each line of an excerpt, in order."""
    out: list[tuple[str, str]] = []
    gap = ""
    for line in re.split(r"(\n\s*)", excerpt.strip()):
        if not line.strip():
            gap += line
            continue
        pos = 0
        lead = gap
        for m in SENTENCE_END.finditer(line):
            out.append((line[pos:m.start(1)].strip(), lead))
            lead, pos = m.group(1), m.end(1)
        if line[pos:].strip():
            out.append((line[pos:].strip(), lead))
        gap = ""
    return out


CLAUSE_END = re.compile(r"[,;:–—]|\s-\s")
CUT_MARKS = ("", ".", "…", "...", " …", " ...")


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class _Selection:
    """The bounded search of one excerpt's order-keeping selections for one checksum."""

    def __init__(self, units: list[tuple[str, str]], blank: bool, sha: str, chars: int, budget: int,
                 deadline: float = float("inf")):
        self.units, self.blank, self.sha, self.chars, self.budget = units, blank, sha, chars, budget
        self.deadline = deadline        # time.monotonic() past which the case is given up
        self.steps = 0
        self.expired = False

    def out_of_time(self) -> bool:
        """Past the deadline (looked at every 4,096 steps); once past, always past."""
        if not self.expired and self.steps % 4096 == 0:
            self.expired = time.monotonic() > self.deadline
        return self.expired

    def seps(self, i: int, last: int) -> list[str]:
        """A line break, a blank line (where the excerpt has them), the original whitespace of
        adjacent units, a space between units of one line."""
        seps = {"\n"} | ({"\n\n"} if self.blank else set())
        if i == last + 1:
            seps.add(self.units[i][1])
        if "\n" not in "".join(self.units[j][1] for j in range(last + 1, i + 1)):
            seps.add(" ")
        return sorted(seps)

    def done(self, parts: list[str], length: int, last: int, tail: tuple[int, str] | None) -> str | None:
        endings = [("", "")] if tail is None else [(sep, tail[1]) for sep in self.seps(tail[0], last)]
        for sep, end in endings:
            if length + len(sep) + len(end) == self.chars:
                text = "".join(parts) + sep + end
                if _sha(text) == self.sha:
                    return text
        return None

    def walk(self, start: int, stop: int, parts: list[str], length: int, last: int,
             tail: tuple[int, str] | None = None) -> str | None:
        self.steps += 1
        if self.steps > self.budget or self.out_of_time():
            return None
        found = self.done(parts, length, last, tail) if parts else None
        room = self.chars - (len(tail[1]) + 1 if tail else 0)
        for i in range(start, stop):
            if found is not None:
                break
            for sep in self.seps(i, last) if parts else [""]:
                grown = length + len(sep) + len(self.units[i][0])
                if found is None and grown <= room:
                    found = self.walk(i + 1, stop, parts + [sep, self.units[i][0]], grown, i, tail)
        return found

    def with_cut_tail(self) -> str | None:
        """Selections whose last unit is cut short at a clause boundary."""
        for j, (unit, _) in enumerate(self.units):
            for cut in CLAUSE_END.finditer(unit):
                for mark in CUT_MARKS:
                    short = unit[:cut.start()] + mark
                    if len(short) == self.chars and _sha(short) == self.sha:
                        return short
                    if self.expired or time.monotonic() > self.deadline:
                        return None
                    self.steps = 0
                    found = self.walk(0, j, [], 0, -2, (j, short)) if len(short) < self.chars else None
                    if found is not None:
                        return found
        return None


LONE_BREAK = re.compile(r"(?<!\n)\n(?!\n)")


def find_selection(excerpt: str, sha: str, chars: int, budget: int = 200_000,
                   seconds: float = float("inf")) -> tuple[str | None, str | None]:
    """(exact text, closest candidate): order-keeping selections of the excerpt's units.

    Units are joined by a line break, a blank line (where the excerpt has them), their
    original whitespace (adjacent units) or a space (units of one line). A second pass lets
    the last unit be cut short at a clause boundary (a comma, a dash), with or without a
    closing mark. The search only walks selections whose length can still reach `chars`.
    Last, the stored excerpt with one of its single line breaks (or all of them) read as a
    space: the store sometimes breaks a line the case's excerpt did not. The whole search of
    one excerpt stops after `seconds` (the clause pass can otherwise walk for minutes).
    """
    whole = re.sub(r"^date \d{4}-\d{2}(-\d{2})? ", "", excerpt.strip())  # page furniture
    for text in (excerpt.strip(), whole):
        if _sha(text) == sha:
            return text, text
    deadline = time.monotonic() + seconds
    breaks = [m.start() for m in LONE_BREAK.finditer(whole)]
    variants = [whole] + [whole[:i] + " " + whole[i + 1:] for i in breaks[:12]]
    if len(breaks) > 1:
        variants.append(LONE_BREAK.sub(" ", whole))
    for variant in variants:
        search = _Selection(units_of(variant), "\n\n" in variant, sha, chars, budget, deadline)
        found = search.walk(0, len(search.units), [], 0, -2) or search.with_cut_tail()
        if found is not None:
            return found, found
        if time.monotonic() > deadline:
            break
    units = units_of(whole)
    # no exact selection: the run of consecutive units closest in length (read it before keeping it)
    n = len(units)
    runs = ["\n".join(u for u, _ in units[i:k]) for i in range(n) for k in range(i + 1, n + 1)]
    return None, min(runs, key=lambda r: abs(len(r) - chars), default=None)


def read_answers(folder: Path) -> dict[tuple[str, str], list[str]]:
    """(query, url) -> excerpts from saved answers: `#query: Q`, then `=== URL` blocks.

    A page can come back twice in one answer (two passages of it): both are kept."""
    out: dict[tuple[str, str], list[str]] = {}
    for path in sorted(folder.glob("*.txt")):
        query, url, lines = "", None, []
        for line in path.read_text(encoding="utf-8").splitlines() + ["=== "]:
            if line.startswith("#query: ") and url is None:
                query = line[len("#query: "):].strip()
            elif line.startswith("=== "):
                if url:
                    out.setdefault((query, url), []).append("\n".join(lines).strip())
                url, lines = line[4:].strip(), []
            elif url is not None:
                lines.append(line)
    return out


def rebuild(folder: Path, approx: bool, verbose: bool, budget: int = 200_000,
            seconds: float = 60.0) -> int:
    answers = read_answers(folder)
    TEXTS.mkdir(exist_ok=True)
    counts = {"exact": 0, "approximate": 0, "missing": 0, "kept": 0}
    for case in read_manifest():
        path = TEXTS / f"{case['id']}.txt"
        if path.exists() and hashlib.sha256(path.read_text(encoding="utf-8").strip().encode()).hexdigest() == case["sha256"]:
            counts["exact"] += 1
            continue
        excerpts = answers.get((case["query"], case["url"]))
        if not excerpts:
            counts["missing"] += 1
            if verbose:
                print(f"missing: {case['id']} {case['url']} (no saved answer)")
            continue
        exact, closest = None, None
        for excerpt in excerpts:
            exact, near = find_selection(excerpt, case["sha256"], case["chars"], budget, seconds)
            if closest is None or (near and abs(len(near) - case["chars"]) < abs(len(closest) - case["chars"])):
                closest = near
            if exact is not None:
                break
        if exact is not None:
            path.write_text(exact + "\n", encoding="utf-8")
            counts["exact"] += 1
        elif path.exists():
            counts["kept"] += 1
            print(f"kept: {case['id']} (an approximate text already there)")
        else:
            counts["approximate"] += 1
            print(f"approximate: {case['id']} {case['chars']} chars wanted, "
                  f"closest {len(closest or '')}: {case['url']}")
            if approx and closest:
                path.write_text(closest + "\n", encoding="utf-8")
    print(" ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["rebuild"]:
        budget = next((int(a.split("=", 1)[1]) for a in argv if a.startswith("--budget=")), 200_000)
        seconds = next((float(a.split("=", 1)[1]) for a in argv if a.startswith("--seconds=")), 60.0)
        rest = [a for a in argv[1:] if not a.startswith("--")]
        return rebuild(Path(rest[0]) if rest else TEXTS / "_answers", "--approx" in argv, "--verbose" in argv,
                       budget, seconds)
    if argv[:1] == ["add"]:
        return add(sys.stdin.read().splitlines())
    if argv[:1] == ["check"]:
        return check()
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
