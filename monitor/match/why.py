"""The `why` of a match: which clauses of the query were satisfied, and their decisive hits.

Owns choosing the clauses and their hits. The query is split at its top-level ORs into
branches and each satisfied branch at its top-level ANDs into conjuncts; every conjunct
that holds by at least one occurrence is a clause, quoted in the rule's own words (an
`@entity` stays `@entity`). A clause's hits are only the occurrences that make it true:
for `{Kallas} NEAR/20 (EU OR NATO)` the Kallas and EU/NATO mentions that are within 20
tokens of each other, not every EU elsewhere in the article; for `A NOT NEAR/n B` the A
occurrences without a B in range; NOT parts contribute none. A proximity clause also
lists each side with its hits (`sides`). Digests highlight the decisive hits of the first
satisfied branch (Match.decisive_hits), not every hit.

Must not decide whether a rule fires: evaluate.py calls this for rules that fired.
"""

from __future__ import annotations

from typing import Any

from monitor.match import parse as p
from monitor.match.evaluate import ALL, Context, Limits, Occ, holds
from monitor.match.proximity import near_pairs, not_near
from monitor.match.rules import Rule

Clause = tuple[int, str, list[Occ], tuple[tuple[str, list[Occ]], ...]]   # branch, words, occurrences, sides


def explain_why(rule: Rule, ctx: Context) -> list[Clause]:
    """The satisfied clauses of rule's query on the (masked) article of ctx, with the
    occurrences that decided each (evaluate.py turns them into Why records with hits)."""
    out = []
    branches = _branches(rule.query_ast)
    for index, branch in enumerate(branches):
        if len(branches) > 1 and not holds(branch, ctx):   # a lone branch is the query: it held
            continue
        for part in branch.children if isinstance(branch, p.And) else (branch,):
            if isinstance(part, p.Not):
                continue    # a negation points at nothing
            clause = _clause(index, part, ctx, rule.query)
            if clause is not None:
                out.append(clause)
    return out


def _branches(node: Any) -> tuple:
    return node.children if isinstance(node, p.Or) and not node.entity else (node,)


def _words(node: Any, query: str) -> str:
    start, end = node.span
    return query[start:end] if end > start else ""


def _clause(index: int, node: Any, ctx: Context, query: str) -> Clause | None:
    if isinstance(node, p.Near):
        left, right = near_pairs(node, ctx, ALL)
        if not left:
            return None
        return (index, _words(node, query), left + right,
                ((_words(node.left, query), left), (_words(node.right, query), right)))
    found = decisive(node, ctx, ALL)
    if not found:
        return None     # satisfied by a negation alone: nothing to point at
    return (index, _words(node, query), found, ())


def decisive(node: Any, ctx: Context, allowed: Limits) -> list[Occ] | None:
    """The occurrences that make node true, or None when it is false."""
    if isinstance(node, p.Term):
        return ctx.within(node, allowed) or None
    if isinstance(node, p.Or):
        parts = [d for c in node.children if (d := decisive(c, ctx, allowed)) is not None]
        return [o for d in parts for o in d] if parts else None
    if isinstance(node, p.And):
        out: list[Occ] = []
        for c in node.children:
            d = decisive(c, ctx, allowed)
            if d is None:
                return None
            out += d
        return out
    if isinstance(node, p.Not):
        return None if holds(node.child, ctx, allowed) else []
    if isinstance(node, p.Scope):
        return decisive(node.child, ctx, ctx.scope(allowed, node.field))
    if isinstance(node, p.Near):
        left, right = near_pairs(node, ctx, allowed)
        return left + right if left else None
    if isinstance(node, p.NotNear):
        return not_near(node, ctx, allowed) or None
    raise TypeError(node)
