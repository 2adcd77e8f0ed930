"""Each seed article of ../shared/seeds fires exactly the rules it is about.

A seed is read the way `monitor match` reads a .txt file (the contract's rule): the first
non-empty line is the title, the rest is the text. For some seeds that title is page
furniture (" date 2026-01-28 WORLD", "ADVERTISEMENT", a dateline); no rule of the pack
is scoped to `title:`, so this does not change what fires. docs/rulepack.md has the
same table with the passages behind each expectation.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.models import Article

from ._pack import SEEDS

# seed file -> the exact set of rules it must fire (no more, no less)
EXPECTED: dict[str, set[str]] = {
    # TRT World: Kallas at the EDA conference; Rutte's "keep on dreaming"; Greenland seizure threat
    "000_cdfba7690330a649.txt": {
        "kallas", "rutte", "trump-europe", "putin", "greenland", "rearm-europe", "defence-union",
        "nuclear-deterrent", "defence-spending-target",
    },
    # Kallas's EDA speech: SAFE, Rearm Europe, EUR 60bn military aid, European pillar
    "001_e2dda5d7ce8dc833.txt": {
        "kallas", "rutte", "trump-europe", "greenland", "eda", "safe", "rearm-europe",
        "defence-union", "ukraine-military-aid",
    },
    # Bloomberg: Kallas in Warsaw, diversify from US arms after Trump's tariffs, artillery rounds
    "002_220b21adcd5a71f0.txt": {
        "kallas", "rutte", "trump-europe", "zelenskyy", "ukraine-military-aid",
    },
    # Elcano-style analysis: Trump, Putin, Vance, Orban, Starmer, Merz; ReArm, Defence Union,
    # frozen assets, a European nuclear deterrent, Greenland annexation
    "003_9f5bc0e205cdd4d7.txt": {
        "trump-europe", "putin", "zelenskyy", "vance", "orban", "starmer", "merz", "greenland",
        "rearm-europe", "defence-union", "frozen-assets", "nuclear-deterrent", "ukraine-military-aid",
    },
    # Lord's Press: Rutte rejects a defence breakaway; Weber's European flag; strategic autonomy
    "004_b1e325d9d2c4612c.txt": {
        "rutte", "weber", "trump-europe", "defence-union",
    },
}


def read_seed(path: Path) -> Article:
    """The contract's .txt rule: first non-empty line = title, the rest = text."""
    lines = path.read_text(encoding="utf-8").splitlines()
    first = next(i for i, line in enumerate(lines) if line.strip())
    return Article(url=path.as_uri(), feed_url="", guid=path.name, title=lines[first].strip(),
                   text="\n".join(lines[first + 1:]))


def fired(ruleset, name: str) -> set[str]:
    return {m.rule for m in ruleset.match(read_seed(SEEDS / name))}


def test_the_seeds_are_there():
    # shared/ must sit beside the repo; a missing seed folder is a failure, never a skip
    assert SEEDS.is_dir(), f"seed articles not found at {SEEDS} (shared/ must be beside the repo)"
    assert sorted(p.name for p in SEEDS.glob("*.txt")) == sorted(EXPECTED)


def test_the_table_only_names_rules_of_the_pack(bench):
    ids = set(bench.rule_ids())
    for name, expected in EXPECTED.items():
        assert expected <= ids, f"{name}: unknown rules in the table: {sorted(expected - ids)}"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_seed_fires_the_rules_it_is_about(ruleset, name):
    got = fired(ruleset, name)
    assert EXPECTED[name] - got == set(), f"{name}: expected rules did not fire"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_seed_fires_nothing_else(ruleset, name):
    got = fired(ruleset, name)
    assert got - EXPECTED[name] == set(), f"{name}: rules fired that the seed is not about"


def test_clearly_unrelated_rules_stay_quiet(ruleset):
    # a sample spelled out, so a regression reads plainly: none of these seeds names these
    quiet = {
        "004_b1e325d9d2c4612c.txt": {"kallas", "safe", "greenland", "putin", "frozen-assets"},
        "002_220b21adcd5a71f0.txt": {"greenland", "safe", "weber", "nuclear-deterrent", "orban"},
        "000_cdfba7690330a649.txt": {"safe", "eda", "weber", "zelenskyy", "frozen-assets"},
        "003_9f5bc0e205cdd4d7.txt": {"kallas", "rutte", "safe", "eda", "weber"},
    }
    for name, rules in quiet.items():
        assert fired(ruleset, name) & rules == set(), name


def test_matches_carry_hits_and_metadata(ruleset):
    doc = read_seed(SEEDS / "001_e2dda5d7ce8dc833.txt")
    by_rule = {m.rule: m for m in ruleset.match(doc)}
    safe = by_rule["safe"]
    assert safe.priority == "high"
    assert "initiative" in safe.tags
    assert any(h.text == "SAFE" for h in safe.hits)
    kallas = by_rule["kallas"]
    assert any(h.text == "Kaja Kallas" for h in kallas.hits)
    for hit in kallas.hits:
        field_text = getattr(doc, hit.field)
        assert field_text[hit.start:hit.end] == hit.text
