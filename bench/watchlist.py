"""Watch-list rules from real entity names, as a media-monitoring desk would write them.

    from watchlist import write_rules
    write_rules(names, n, folder, per_file=100) -> stats

`names` is the JSON that bench/names_source.py writes (cities with alternate names,
countries with their official names, subdivisions, first names and surnames). The rules
use the language v2 the way watch lists do: people by full name or by case-sensitive
surname near a role word, places as @entities of their aliases near a news context in
the same sentence, countries in the lead, organisations and programmes named after real
places (ONEAR), subdivisions NOT NEAR street words, excludes against obituaries and
sport. Each file holds `per_file` rules and the entities its rules define; the country
entities live in one shared entities file. People pair a real first name with a real
surname at random: the names are real, the persons are not.

Also gives the plain names of each rule (`names_of`) for the naive regex loop and
`grep -F -i -f`. Deterministic for a seed; the files are written at bench time into a
temporary folder and never committed.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import yaml

ROLES = "(minister OR president OR chancellor OR mayor OR ceo OR chief OR said OR spokesperson)"
CONTEXT = "(flood* OR protest* OR election* OR mayor OR police OR fire OR strike* OR council)"
TRADE = "(sanction* OR tariff* OR export* OR embassy OR ambassador)"
STREET = "(street OR road OR avenue OR hotel OR station)"
KINDS = 8


def _q(name: str) -> str:
    return '"' + name.replace('"', "") + '"'


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:30] or "x"


class _Names:
    def __init__(self, names: dict, seed: int):
        self.rng = random.Random(seed)
        self.d = names
        self.pos = {k: 0 for k in ("cities", "subdivisions", "last")}
        self.used: set[str] = set()

    def take(self, kind: str):
        items = self.d[kind]
        item = items[self.pos[kind] % len(items)]
        self.pos[kind] += 1
        return item

    def person(self) -> tuple[str, str]:
        last = self.take("last")
        first = self.rng.choice(self.d["first"])
        self.used.update((last, f"{first} {last}"))
        return first, last

    def place(self, kind: str) -> tuple[str, list[str]]:
        name, aliases = self.take(kind)
        self.used.add(name)
        return name, list(aliases)

    def country(self) -> int:
        i = self.rng.randrange(len(self.d["countries"]))
        self.used.add(self.d["countries"][i][0])
        return i


def _rule(i: int, gen: _Names, entities: dict) -> tuple[dict, list[str]]:
    """Rule number i and the plain names it looks for."""
    kind, rid = i % KINDS, f"w{i}"
    r: dict = {"id": rid}
    if kind == 0:
        f, s = gen.person()
        r["query"] = f"{_q(f + ' ' + s)} OR ({{{s}}} NEAR/3 {ROLES})"
        names = [f"{f} {s}", s]
        if i % 3 == 0:
            r["exclude"] = '(obituary OR "in memoriam")'
    elif kind == 1:
        name, aliases = gen.place("cities")
        ent = f"c{i}-{_slug(name)}"
        entities[ent] = [_q(a) for a in [name, *aliases]]
        r["query"] = f"@{ent} NEAR/s {CONTEXT}"
        names = [name, *aliases]
        if i % 2:
            r["exclude"] = "(football OR fc OR league)"
    elif kind == 2:
        f, s = gen.person()
        c = gen.country()
        r["query"] = f"{{{s}}} AND (@country{c} OR {_q(f)})"
        names = [s]
    elif kind == 3:
        c = gen.country()
        r["query"] = f"lead:@country{c} AND {TRADE}"
        names = [gen.d["countries"][c][0], *gen.d["countries"][c][1]]
    elif kind == 4:
        name, _ = gen.place("subdivisions")
        r["query"] = f"{_q(name)} NOT NEAR/3 {STREET}"
        names = [name]
    elif kind == 5:
        name, _ = gen.place("cities")
        r["query"] = f'"University of {name}" OR {_q(name)} ONEAR/2 (university OR bank OR airport)'
        names = [name]
    elif kind == 6:
        name, aliases = gen.place("cities")
        r["query"] = (f'"{name} Declaration" OR "{name} programme" OR '
                      f"({_q(name)} NEAR/5 (programme OR initiative OR summit OR agreement))")
        names = [name]
    else:
        name, aliases = gen.place("cities")
        c = gen.country()
        r["query"] = f"title:{_q(name)} OR ({_q(name)} AND @country{c})"
        names = [name]
        if i % 4 == 3:
            r["languages"] = ["en"]
    r["title"] = f"Watch {names[0]}"
    return r, names


def _dump(doc: dict) -> str:
    """Block YAML, as people write rule files (libyaml's emitter when present: faster)."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(doc, Dumper=dumper, allow_unicode=True, sort_keys=False, width=1000)


def write_rules(names: dict, n: int, folder: Path, per_file: int = 100, seed: int = 21) -> dict:
    """n rules into folder/wNNNNNNN.yaml (per_file each) plus folder/countries.yaml."""
    folder.mkdir(parents=True, exist_ok=True)
    countries = {f"country{i}": [_q(a) for a in [c[0], *c[1]]] for i, c in enumerate(names["countries"])}
    (folder / "countries.yaml").write_text(_dump({"entities": countries}), encoding="utf-8")
    gen = _Names(names, seed)
    plain: list[list[str]] = []
    for start in range(0, n, per_file):
        entities: dict = {}
        rules = []
        for i in range(start, min(n, start + per_file)):
            rule, names_ = _rule(i, gen, entities)
            rules.append(rule)
            plain.append(names_)
        doc = {"entities": entities, "rules": rules} if entities else {"rules": rules}
        (folder / f"w{start:07d}.yaml").write_text(_dump(doc), encoding="utf-8")
    return {"rules": n, "files": -(-n // per_file) + 1, "distinct_names": len(gen.used), "names": plain}
