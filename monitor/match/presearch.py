"""The presearcher: which rules an article's terms can possibly fire (issue 21).

Owns the necessary conditions of a query, computed once per rule at compile time:
`requirements(node)` is a list of clauses, each a set of presearch keys (Term.pkey) of which
at least one must occur in the article (in any field, ignoring masks, scopes and positions)
for the query to hold. A Term requires its key; AND requires what each operand requires;
OR requires the distribution of its branches' clauses (`(A AND B) OR C` requires A or C, and
B or C) while that stays within MAX_OR_CLAUSES, else per branch its rarest clause, joined
into one clause; NEAR requires both
sides, NOT NEAR its left side, a scope its child; NOT requires nothing. Under a field scope
(`title:`, `summary:`, `text:`) a key must occur in that field: it is required as a *scoped
key*, the key, SCOPE_MARK and the field (`title:"X" OR ("X" AND @country)` is not a
candidate where X occurs only in the text and no country does); Index.present() adds the
scoped keys an article has. `lead:` is not marked (its extent depends on the article).

A rule is indexed under its rarest clause (its *anchors*), so it becomes a candidate only
when one of those keys occurs; a rule without any requirement goes into the
always-evaluated set. A candidate's other clauses are then checked by key presence alone
(the cheap AND approximation) before any position, case or mask work. Both are necessary
conditions of the exact semantics, so results are identical to evaluating every rule.

Rarity is estimated from the key itself (no corpus statistics): longer keys, phrases and
closed keys are rarer than short words and open prefixes. Must not evaluate anything.
"""

from __future__ import annotations

from typing import Any

from monitor.match import parse as p
from monitor.match.nodes import CASE_MARK
from monitor.match.text import SEP

Clause = frozenset[str]
SCOPE_MARK = "\x01"     # joins a key and the field it must occur in (never in a key)


def key_cost(key: str) -> float:
    """An estimate of how often a key occurs: lower is rarer (a case-sensitive form, rarer
    still than its plain key). Remembered per key (compile time is mostly repeated keys)."""
    cost = _COSTS.get(key)
    if cost is None:
        if len(_COSTS) > 1 << 20:
            _COSTS.clear()
        cost = _COSTS[key] = _key_cost(key)
    return cost


_COSTS: dict[str, float] = {}


def _key_cost(key: str) -> float:
    if SCOPE_MARK in key:
        return key_cost(key.split(SCOPE_MARK, 1)[0]) / 2
    if CASE_MARK in key:
        return key_cost(key.split(CASE_MARK, 1)[0]) / 4
    words = key.split(SEP)
    letters = sum(len(w) for w in words)
    cost = 1.0 / (1 + letters) ** 2 / 8 ** (len([w for w in words if w]) - 1)
    if not key.startswith(SEP):
        cost *= 8          # *suffix / *infix*: matches inside tokens
    if not key.endswith(SEP):
        cost *= 8          # prefix*
    return cost


def clause_cost(clause: Clause) -> float:
    if len(clause) == 1:
        for k in clause:
            return key_cost(k)
    return sum(map(key_cost, clause))


def requirements(node: Any) -> list[Clause]:
    """Clauses that must each be satisfied (one of their keys occurs) for node to hold."""
    if isinstance(node, p.Term):
        return [frozenset((node.pkey,))]
    if isinstance(node, p.And):
        return [c for child in node.children for c in requirements(child)]
    if isinstance(node, p.Or):
        kids = node.children
        if all(c.__class__ is p.Term for c in kids):
            return [frozenset([c.pkey for c in kids])]    # words and phrases (an entity, a context group)
        branches = []
        for child in node.children:
            req = requirements(child)
            if not req:
                return []          # a branch that needs no occurrence: the OR needs none
            branches.append(req)
        return _or_clauses(branches)
    if isinstance(node, p.Near):
        return requirements(node.left) + requirements(node.right)
    if isinstance(node, p.NotNear):
        return requirements(node.left)
    if isinstance(node, p.Scope):
        req = requirements(node.child)
        if node.field not in p.FIELDS:
            return req             # lead: the title and the start of the text or summary
        mark = SCOPE_MARK + node.field   # an already scoped key keeps its field: in another
        return [frozenset(k if k.endswith(mark) else k + mark for k in c) for c in req]  # it never occurs
    return []                      # NOT, or anything that can hold by absence


MAX_OR_CLAUSES = 8      # clauses an OR's distribution may give before it falls back to one


def _or_clauses(branches: list[list[Clause]]) -> list[Clause]:
    """The clauses of an OR of conjunctions: (A and B) or C needs (A or C) and (B or C), the
    distribution of the branches, when it stays small; otherwise the union of each branch's
    rarest clause (one clause, still necessary). Clauses implied by a smaller one are dropped."""
    many = [b for b in branches if len(b) > 1]
    size = 1
    for b in many:
        size *= len(b)
    if size == 1 or size > MAX_OR_CLAUSES:
        return [frozenset().union(*(min(b, key=clause_cost) for b in branches))]
    single = frozenset().union(*(b[0] for b in branches if len(b) == 1))
    out = [single]
    for b in many:
        out = [c | d for c in out for d in b]
    out = list(dict.fromkeys(out))
    return [c for c in out if not any(d < c for d in out)]


def plan(node: Any) -> tuple[Clause | None, tuple[Clause, ...]]:
    """The anchors of a query (None: evaluate it always) and the other clauses to check."""
    req = list(dict.fromkeys(requirements(node)))
    if not req:
        return None, ()
    anchors = min(req, key=clause_cost)
    return anchors, tuple(c for c in req if c != anchors)
