"""Evaluating compiled rules against one article and explaining each match with hits.

Owns the semantics of matching: occurrences of terms (with case checks), ignore
masks, boolean operators, NEAR, field scopes, min_hits, exclude, and the language,
feed and enabled filters. Pure: takes an article-like object, returns `Match` records.
"""

from __future__ import annotations

import json
from typing import Any

from monitor.match import parse as p
from monitor.match.compile import Compiled
from monitor.match.rules import Rule
from monitor.match.text import SEP, FieldIndex
from monitor.models import Hit, Match

FIELDS = p.FIELDS
ALL = frozenset(range(len(FIELDS)))
Occ = tuple[int, int, int]      # field index, first token, last token (inclusive)


def index_fields(doc: Any) -> list[FieldIndex]:
    return [FieldIndex(getattr(doc, f, "") or "") for f in FIELDS]


def scan(compiled: Compiled, fields: list[FieldIndex]) -> dict[int, list[Occ]]:
    """Every occurrence of every key, by key id, from one automaton pass per field."""
    occ: dict[int, list[Occ]] = {}
    if compiled.automaton is None:
        return occ
    for fi, fx in enumerate(fields):
        joined = fx.joined
        found = sorted((end - klen + 1, kid, ntok) for end, (kid, klen, ntok) in compiled.automaton.iter(joined))
        k = prev = 0
        for start, kid, ntok in found:
            # a key starts at the separator before its first token: count separators to get its index
            k += joined.count(SEP, prev, start)
            prev = start
            occ.setdefault(kid, []).append((fi, k, k + ntok - 1))
    return occ


class Context:
    """Occurrences of terms in one article for one rule, with its ignore mask applied."""

    def __init__(self, compiled: Compiled, occ: dict[int, list[Occ]], fields: list[FieldIndex],
                 mask: set[tuple[int, int]] | None = None):
        self.compiled, self.occ, self.fields, self.mask = compiled, occ, fields, mask
        self.cache: dict[p.Term, list[Occ]] = {}

    def of(self, term: p.Term) -> list[Occ]:
        found = self.cache.get(term)
        if found is None:
            found = self.occ.get(self.compiled.key_ids[term.key], [])
            if term.case is not None:
                found = [o for o in found if self._case_ok(term, o)]
            if self.mask:
                mask = self.mask
                found = [o for o in found if not any((o[0], t) in mask for t in range(o[1], o[2] + 1))]
            self.cache[term] = found
        return found

    def _case_ok(self, term: p.Term, o: Occ) -> bool:
        fx = self.fields[o[0]]
        assert term.case is not None   # only case-sensitive terms are checked here
        if term.prefix:
            return fx.case_token(o[1]).startswith(term.case[0])
        return all(fx.case_token(o[1] + i) == c for i, c in enumerate(term.case))


def holds(node: Any, ctx: Context, allowed: frozenset[int] = ALL) -> bool:
    if isinstance(node, p.Term):
        return any(o[0] in allowed for o in ctx.of(node))
    if isinstance(node, p.Or):
        return any(holds(c, ctx, allowed) for c in node.children)
    if isinstance(node, p.And):
        return all(holds(c, ctx, allowed) for c in node.children)
    if isinstance(node, p.Not):
        return not holds(node.child, ctx, allowed)
    if isinstance(node, p.Scope):
        return holds(node.child, ctx, allowed & {FIELDS.index(node.field)})
    if isinstance(node, p.Near):
        return _near(node, ctx, allowed)
    raise TypeError(node)


def _side(node: Any, ctx: Context, allowed: frozenset[int]) -> list[Occ]:
    terms = node.children if isinstance(node, p.Or) else (node,)
    return [o for t in terms for o in ctx.of(t) if o[0] in allowed]


def _near(node: p.Near, ctx: Context, allowed: frozenset[int]) -> bool:
    left = _side(node.left, ctx, allowed)
    if not left:
        return False
    right = _side(node.right, ctx, allowed)
    n = node.distance
    for f, a0, a1 in left:
        for g, b0, b1 in right:
            if f == g and (0 < b0 - a1 <= n or 0 < a0 - b1 <= n):
                return True
    return False


def positive_terms(node: Any, allowed: frozenset[int] = ALL, negated: bool = False):
    """(term, fields) for every leaf not under a NOT: the ones whose occurrences are hits."""
    if isinstance(node, p.Term):
        if not negated:
            yield node, allowed
    elif isinstance(node, p.Not):
        yield from positive_terms(node.child, allowed, not negated)
    elif isinstance(node, (p.And, p.Or)):
        for c in node.children:
            yield from positive_terms(c, allowed, negated)
    elif isinstance(node, p.Near):
        yield from positive_terms(node.left, allowed, negated)
        yield from positive_terms(node.right, allowed, negated)
    elif isinstance(node, p.Scope):
        yield from positive_terms(node.child, allowed & {FIELDS.index(node.field)}, negated)


def hits(rule: Rule, ctx: Context) -> tuple[Hit, ...]:
    spans: set[Occ] = set()
    for term, allowed in positive_terms(rule.query_ast):
        spans.update(o for o in ctx.of(term) if o[0] in allowed)
    out = []
    for f, a, b in sorted(spans):
        fx = ctx.fields[f]
        s, e = fx.span(a, b)
        out.append(Hit(FIELDS[f], s, e, fx.text[s:e]))
    return tuple(sorted(set(out), key=lambda h: (FIELDS.index(h.field), h.start, h.end)))


def applies(rule: Rule, doc: Any) -> bool:
    """The enabled, language and feed filters."""
    if not rule.enabled:
        return False
    lang = (getattr(doc, "language", "") or "").lower().split("-")[0].split("_")[0]
    if rule.languages and lang and lang not in rule.languages:
        return False
    if rule.feeds:
        tags = getattr(doc, "feed_tags", ()) or ()
        if isinstance(tags, str):
            tags = json.loads(tags) if tags.startswith("[") else [tags]
        if not set(rule.feeds) & set(tags):
            return False
    return True


def mask_of(rule: Rule, ctx: Context) -> set[tuple[int, int]]:
    mask: set[tuple[int, int]] = set()
    for term, allowed in positive_terms(rule.ignore_ast):
        for f, a, b in ctx.of(term):
            if f in allowed:
                mask.update((f, t) for t in range(a, b + 1))
    return mask


def evaluate(rule: Rule, compiled: Compiled, occ: dict[int, list[Occ]], fields: list[FieldIndex],
             plain: Context) -> Match | None:
    """The match of one rule on one scanned article, or None."""
    ctx = plain
    if rule.ignore_ast is not None:
        mask = mask_of(rule, plain)
        if mask:
            ctx = Context(compiled, occ, fields, mask)
    if not holds(rule.query_ast, ctx):
        return None
    found = hits(rule, ctx)
    if len(found) < rule.min_hits:
        return None
    if rule.exclude_ast is not None and holds(rule.exclude_ast, plain):
        return None
    return Match(rule=rule.id, priority=rule.priority, title=rule.title, tags=rule.tags,
                 channels=rule.channels, hits=found)


def verdict(rule: Rule, compiled: Compiled, occ: dict[int, list[Occ]], fields: list[FieldIndex],
            plain: Context, doc: Any) -> tuple[Match | None, str]:
    """Like evaluate, for people: the match or None, and why (for `rules test --verbose`)."""
    if not rule.enabled:
        return None, "disabled"
    if not applies(rule, doc):
        return None, "not applicable (languages/feeds)"
    ctx = plain
    if rule.ignore_ast is not None and (mask := mask_of(rule, plain)):
        ctx = Context(compiled, occ, fields, mask)
    if not holds(rule.query_ast, ctx):
        return None, "query does not match" + (" (after ignore masking)" if ctx is not plain else "")
    found = hits(rule, ctx)
    if len(found) < rule.min_hits:
        return None, f"only {len(found)} hit(s), min_hits is {rule.min_hits}"
    if rule.exclude_ast is not None and holds(rule.exclude_ast, plain):
        return None, "vetoed by exclude"
    return evaluate(rule, compiled, occ, fields, plain), "fired"
