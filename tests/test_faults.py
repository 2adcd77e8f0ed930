"""The fault drill (bench/faults.py) on a small farm: 150 feeds, 10% faulty (every fault kind), 3 cycles.

Slow (about 20 s of two busy cores: a farm, an extraction pool, a 5 s timeout per cycle
for the slow feeds), so it is marked `slow` and left out of the default run:
`.venv/bin/python -m pytest -m slow tests/test_faults.py`. The 1,000-feed drill is
`.venv/bin/python bench/faults.py`.
"""

from __future__ import annotations

import asyncio

import pytest

from bench.faults import EXPECTED, run_drill, table


@pytest.mark.slow
def test_fault_drill_small_farm(tmp_path):
    report = asyncio.run(run_drill(feeds=150, items=5, cycles=3, hosts=20, faults=0.1, timeout=5.0,
                                   workdir=tmp_path))
    failures = [f"{c.kind}: {c.name} [{c.detail}]" for c in report.failures()]
    assert not failures, "\n" + table(report) + "\n" + "\n".join(failures)
    kinds = {r["kind"] for r in report.rows}
    assert kinds == {k or "healthy" for k in EXPECTED}            # every fault kind was drilled
    healthy = next(r for r in report.rows if r["kind"] == "healthy")
    assert healthy["articles"] > 500 and healthy["stored"] == healthy["articles"]
    assert report.canary_hits == 0 and not report.bad_logs
    assert len(report.checks) > 40
