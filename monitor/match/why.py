"""The `why` of a match: which clauses of the query were satisfied, and their decisive hits.

Owns choosing the clauses and their hits. The query is split at its top-level ORs into
branches and each satisfied branch at its top-level ANDs into conjuncts; every conjunct
that holds by at least one occurrence is a clause, quoted in the rule's own words (an
`@entity` stays `@entity`). A clause's hits are only the occurrences that make it true:
for `{Kallas} NEAR/20 (EU OR NATO)` the Kallas and EU/NATO mentions that are within 20
tokens of each other, not every EU elsewhere in the article; for `A NOT NEAR/n B` the A
occurrences without a B in range; NOT parts contribute none. A proximity clause also
lists each side with its hits (`sides`). Digests highlight these hits, not every hit.

Must not decide whether a rule fires: evaluate.py calls this for rules that fired.
"""

from __future__ import annotations

from typing import Any

from monitor.match import parse as p
from monitor.match.evaluate import ALL, Context, Limits, Occ, holds, to_hits
from monitor.match.proximity import near_sides, not_near, side
from monitor.match.rules import Rule
from monitor.models import Why


def explain_why(rule: Rule, ctx: Context) -> tuple[Why, ...]:
    """The satisfied clauses of rule's query on the (masked) article of ctx."""
    out = []
    for branch in _branches(rule.query_ast):
        if not holds(branch, ctx):
            continue
        for part in branch.children if isinstance(branch, p.And) else (branch,):
            why = _clause(part, ctx, rule.query)
            if why is not None:
                out.append(why)
    return tuple(out)


def _branches(node: Any) -> tuple:
    return node.children if isinstance(node, p.Or) and not node.entity else (node,)


def _words(node: Any, query: str) -> str:
    start, end = node.span
    return query[start:end] if end > start else ""


def _clause(node: Any, ctx: Context, query: str) -> Why | None:
    if isinstance(node, p.Near):
        left, right = near_sides(node, ctx, side(node.left, ctx, ALL), side(node.right, ctx, ALL))
        if not left:
            return None
        return Why(_words(node, query), to_hits(ctx, left + right),
                   (Why(_words(node.left, query), to_hits(ctx, left)),
                    Why(_words(node.right, query), to_hits(ctx, right))))
    found = decisive(node, ctx, ALL)
    if not found:
        return None     # satisfied by a negation alone: nothing to point at
    return Why(_words(node, query), to_hits(ctx, found))


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
        left, right = near_sides(node, ctx, side(node.left, ctx, allowed), side(node.right, ctx, allowed))
        return left + right if left else None
    if isinstance(node, p.NotNear):
        return not_near(node, ctx, allowed) or None
    raise TypeError(node)
