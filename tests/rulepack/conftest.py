"""Fixtures for the rule pack tests: the shipped rules, loaded once, and the bench module."""

from __future__ import annotations

import pytest

from ._pack import RULES, load_bench


@pytest.fixture(scope="session")
def bench():
    return load_bench()


@pytest.fixture(scope="session")
def ruleset():
    from monitor.match import load_rules
    return load_rules(RULES)
