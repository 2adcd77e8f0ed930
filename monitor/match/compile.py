"""Compiling a rule set into one Aho-Corasick automaton over normalised token sequences.

Owns the shared index of every leaf term of every rule (query, exclude and ignore):
one automaton, whose keys are the terms' normalised tokens between separators (a
wildcard side has no separator: `defen*`, `*union`, `*verteidigung*`), and the
map from each key to the rules anchored on it (presearch.py: the rarest keys a rule cannot
match without), so an article is scanned once and only the rules whose anchors occur,
and whose other required keys occur too, are evaluated. Must not evaluate queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ahocorasick

from monitor.match import parse as p
from monitor.match.presearch import plan
from monitor.match.rules import Rule


def terms_of(node: object) -> list[p.Term]:
    return [t for t, _ in p.walk_terms(node) if isinstance(t, p.Term)] if node is not None else []


@dataclass
class Compiled:
    automaton: ahocorasick.Automaton | None
    key_ids: dict[str, int]               # automaton key -> key id
    rules_by_key: list[tuple[int, ...]]   # key id -> indexes of rules anchored on it (presearch.py)
    inner_keys: tuple[int, ...] = ()      # key ids of *infix* terms, which can match twice in one token
    always: tuple[int, ...] = ()          # indexes of enabled rules without anchors: evaluated always
    checks: dict[int, tuple[tuple[int, ...], ...]] = field(default_factory=dict)
    # rule index -> its other required clauses (key ids, one of each must occur)


def compile_rules(rules: tuple[Rule, ...]) -> Compiled:
    key_ids: dict[str, int] = {}
    users: list[set[int]] = []
    inner: list[int] = []
    always: list[int] = []
    checks: dict[int, tuple[tuple[int, ...], ...]] = {}
    auto = ahocorasick.Automaton()
    for index, rule in enumerate(rules):
        if not rule.enabled:
            continue
        for node in (rule.query_ast, rule.exclude_ast, rule.ignore_ast):
            for term in terms_of(node):
                key = term.key
                if key not in key_ids:
                    kid = key_ids[key] = len(key_ids)
                    users.append(set())
                    # the value carries what the scan needs without a lookup per occurrence: the
                    # key's length, and its first and last token relative to the separators
                    # counted before its start (a key with an open start begins inside its
                    # token, one separator later than a key that begins with a separator)
                    shift = 1 if term.open_start else 0
                    auto.add_word(key, (kid, len(key), -shift, len(term.tokens) - 1 - shift))
                    if term.open_start and term.prefix:
                        inner.append(kid)
        anchors, others = plan(rule.query_ast)
        if anchors is None:
            always.append(index)
            continue
        for key in anchors:
            users[key_ids[key]].add(index)
        if others:
            checks[index] = tuple(tuple(key_ids[k] for k in c) for c in others)
    if key_ids:
        auto.make_automaton()
    return Compiled(auto if key_ids else None, key_ids, [tuple(sorted(u)) for u in users], tuple(inner),
                    tuple(always), checks)
