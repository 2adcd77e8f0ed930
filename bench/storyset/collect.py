"""Rebuild texts/collected.jsonl from the saved search answers in texts/raw/ (both ignored).

Each texts/raw/NN.txt holds one `search` answer (corpus `pages`) for one distinct query of
the manifest, as written down when the search ran: a `query:` line, then one block per
result, `=== RANK URL` followed by the excerpt as the tool returned it. Results that are not
in the manifest were kept as their URL and first words only (marked `[not in manifest]`).
A texts/raw/NN.json holds the same answer as the tool's JSON (`{"query": ..., "results":
[{"rank", "url", "excerpt"}, ...]}`), results outside the manifest left out.
For every manifest line whose URL has an excerpt, this writes the manifest's fields plus
"text" (the excerpt) to texts/collected.jsonl, and reports what is missing. No search is
spent: run the searches once (bench/storyset/README.md), save the answers, then

    .venv/bin/python bench/storyset/collect.py
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RAW = HERE / "texts" / "raw"
OUT = HERE / "texts" / "collected.jsonl"
_BLOCK = re.compile(r"^=== (\d+) (\S+)(.*)$", re.M)


def excerpts(path: Path) -> tuple[str, dict[str, str]]:
    """(query, url -> excerpt) of one saved answer; results kept without their excerpt are skipped."""
    raw = path.read_text()
    query = raw.partition("\n")[0].removeprefix("query:").strip()
    found: dict[str, str] = {}
    marks = list(_BLOCK.finditer(raw))
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(raw)
        if "[not in manifest]" in m.group(3):
            continue
        found.setdefault(m.group(2), raw[m.end() + 1:end].rstrip("\n"))
    return query, found


def json_excerpts(path: Path) -> tuple[str, dict[str, str]]:
    """(query, url -> excerpt) of one answer saved as the search tool's JSON."""
    answer = json.loads(path.read_text())
    found: dict[str, str] = {}
    for result in answer.get("results", []):
        found.setdefault(result["url"], result["excerpt"])
    return answer["query"], found


def main() -> int:
    manifest = [json.loads(line) for line in (HERE / "manifest.jsonl").read_text().splitlines() if line.strip()]
    by_query: dict[str, dict[str, str]] = {}
    for path in sorted([*RAW.glob("*.txt"), *RAW.glob("*.json")]):
        query, found = json_excerpts(path) if path.suffix == ".json" else excerpts(path)
        by_query.setdefault(query, {}).update(found)
    rows, missing = [], []
    for entry in manifest:
        text = by_query.get(entry["query"], {}).get(entry["url"])
        if text is None:
            missing.append(entry["url"])
            continue
        rows.append({**entry, "event": entry["label"], "text": text})
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    print(f"{len(rows)} of {len(manifest)} manifest pages written to {OUT.relative_to(HERE.parents[1])}")
    for url in missing:
        print("missing:", url, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
