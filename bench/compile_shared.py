"""Bench: compiling rules that share an anchor or a query, old code beside new (issue 21).

    .venv/bin/python bench/compile_shared.py [--sizes 10000,40000,100000] [--kinds anchor,query,min-hits]
        [--code DIR ...]

Writes N rules into one file, of one kind:

- `anchor`: `nato OR w<i>x`, each rule its own plan, every plan anchored on ` nato ` (a
  watch list whose rules all OR one common name);
- `query`: `nato` N times (one plan of N rules, as rules that differ only in their
  channels, languages or feeds);
- `min-hits`: `nato` with min_hits 1..N (N plans of one query text);

loads them with `load_rules` and prints the CPU seconds of the load and of `compile_rules`
alone, each in a fresh process per code tree (--code: checkouts to compare, default this
one). A frozenset rebuilt per added plan, a tuple of refs rebuilt per added rule and a scan
of every plan of the same query made these quadratic.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHILD = """
import sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from monitor.match import load_rules
from monitor.match.compile import compile_rules
t = time.process_time()
rules = load_rules(Path(sys.argv[2]))
load = time.process_time() - t
t = time.process_time()
compile_rules(rules.rules)
print(f"{load:.2f} {time.process_time() - t:.2f}")
"""

RULES = {
    "anchor": lambda i: f"  - id: r{i}\n    query: 'nato OR w{i}x'\n",
    "query": lambda i: f"  - id: r{i}\n    query: nato\n",
    "min-hits": lambda i: f"  - id: r{i}\n    query: nato\n    min_hits: {i + 1}\n",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,40000,100000")
    ap.add_argument("--kinds", default="anchor,query,min-hits")
    ap.add_argument("--code", action="append", type=Path, help="a checkout to time (repeatable; default: this one)")
    args = ap.parse_args()
    codes = args.code or [REPO]
    print(f"{'kind':<9} {'rules':>7}  {'code':<24} {'load_rules CPU s':>16} {'compile_rules CPU s':>20}")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.kinds.split(","):
            for n in (int(s) for s in args.sizes.split(",")):
                folder = Path(tmp) / f"{kind}-{n}"
                folder.mkdir()
                (folder / "shared.yaml").write_text("rules:\n" + "".join(map(RULES[kind], range(n))))
                for code in codes:
                    out = subprocess.run([sys.executable, "-c", CHILD, str(code.resolve()), str(folder)],
                                         capture_output=True, text=True, check=True, cwd=code)
                    load, comp = out.stdout.split()
                    print(f"{kind:<9} {n:>7}  {str(code)[-24:]:<24} {load:>16} {comp:>20}", flush=True)


if __name__ == "__main__":
    main()
