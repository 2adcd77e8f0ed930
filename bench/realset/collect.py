"""Add real excerpts to the development set: the manifest (committed) and the texts (not).

    .venv/bin/python bench/realset/collect.py add < entries.jsonl
    .venv/bin/python bench/realset/collect.py check

`add` reads JSON lines with `url`, `query` (the search tool query that found the page),
`lang` (ISO 639-1), `labels` (rule ids that should fire, a list or a space-separated
string, empty for a negative), `reason` (one line) and `text` (the excerpt as the search
tool's stored page gives it, possibly shortened to the passage that decides the labels).
It writes the text to texts/<id>.txt (ignored by git: third-party text is never
committed) and appends the case to manifest.jsonl with its split.

The id is derived from the URL and the text (sha1), and the split is derived from the id
alone (`tune` or `held`), once, when the case is added: it never changes afterwards and no
case is ever moved between halves. `check` reports which texts are missing or changed.
This module owns the manifest format; it must not score rules (bench/rulepack.py does).
"""

from __future__ import annotations

import hashlib
import json
import sys
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


def read_manifest(path: Path = MANIFEST) -> list[dict]:
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


def main(argv: list[str]) -> int:
    if argv[:1] == ["add"]:
        return add(sys.stdin.read().splitlines())
    if argv[:1] == ["check"]:
        return check()
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
