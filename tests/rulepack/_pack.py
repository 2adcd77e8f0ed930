"""Paths and helpers shared by the rule pack tests (a module, so tests can import it)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "rules"
SEEDS = REPO.parent / "shared" / "seeds"


def load_bench():
    """bench/rulepack.py as a module (bench/ is scripts, not a package)."""
    if "bench_rulepack" in sys.modules:
        return sys.modules["bench_rulepack"]
    spec = importlib.util.spec_from_file_location("bench_rulepack", REPO / "bench" / "rulepack.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_rulepack"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
