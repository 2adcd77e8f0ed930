"""`monitor match --json` on the seeds agrees with the table of test_seeds.py (one subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

from ._pack import REPO, RULES, SEEDS
from .test_seeds import EXPECTED


def test_cli_match_json_on_the_seeds_gives_the_table():
    paths = [str(SEEDS / name) for name in sorted(EXPECTED)]
    assert all((SEEDS / name).is_file() for name in EXPECTED), f"seeds missing under {SEEDS}"
    proc = subprocess.run([sys.executable, "-m", "monitor", "match", "--rules", str(RULES), "--json", *paths],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert [line["path"].rsplit("/", 1)[-1] for line in lines] == sorted(EXPECTED)
    for line in lines:
        name = line["path"].rsplit("/", 1)[-1]
        assert line["rules"] == sorted(EXPECTED[name]), name
        assert {m["rule"] for m in line["matches"]} == EXPECTED[name], name


def test_cli_rules_check_accepts_the_pack():
    proc = subprocess.run([sys.executable, "-m", "monitor", "rules", "check", "--rules", str(RULES)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
