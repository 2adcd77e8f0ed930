"""Evaluating compiled rules against one article and explaining each match with hits.

Owns the semantics of matching: occurrences of terms (with case checks), ignore
masks, boolean operators, field and lead scopes, min_hits, exclude, and the language,
feed and enabled filters; proximity arithmetic is in proximity.py, the `why` of a match
in why.py. Pure: takes an article-like object, returns `Match` records. A match records
at most MAX_HITS hits (plus its decisive ones); the verdict and min_hits use them all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import partial
from typing import Any, TypeVar

from monitor.match import parse as p
from monitor.match.compile import Index, RsAutomaton
from monitor.match.proximity import ALL, INF, near_holds, not_near  # ALL: one object (`allowed is ALL`)
from monitor.match.rules import Rule
from monitor.match.text import SEP, FieldIndex
from monitor.models import Hit, Match, Why

FIELDS = p.FIELDS
Occ = tuple[int, int, int]      # field index, first token, last token (inclusive)
Limits = tuple[int, int, int]   # per field: occurrences must end before this token (0: field excluded)
FIELD_LIMITS: dict[str, Limits] = {"title": (INF, 0, 0), "summary": (0, INF, 0), "text": (0, 0, INF)}
LEAD_TOKENS = 60
MAX_HITS = 100                  # hits recorded per match; min_hits counts all of them
_NONE: list[Occ] = []           # no occurrences (shared: never appended to)


R = TypeVar("R", Hit, Why, Match)
_new = object.__new__
_set = object.__setattr__


def record(cls: type[R], fields: dict[str, Any]) -> R:
    """cls(**fields) for Hit, Why and Match, given every field: the frozen dataclass's own
    __init__ sets each field through object.__setattr__ (1.3 us a Hit, 2.9 a Match); this
    sets the instance dict at once (0.3 us). The same object: they have no __post_init__,
    no slots, and eq and hash read the fields (tests/test_match_presearch.py checks)."""
    made = _new(cls)
    _set(made, "__dict__", fields)
    return made


def index_fields(doc: Any) -> list[FieldIndex]:
    return [FieldIndex(getattr(doc, f, "") or "") for f in FIELDS]


def scan(index: Index, fields: list[FieldIndex]) -> dict[str, list[Occ]]:
    """Every occurrence of every key, by presearch key (compile.py), in field and token order.

    The automata report matches by end position; for one key that is also start order, and
    a key is in one automaton only. A match starting at `start` (the separator before its
    first token, or inside that token for an open start) has that token's index as the
    number of separators before `start`: counted from the previous match's start, forwards
    or (for a longer key ending later) backwards, in C."""
    occ: dict[str, list[Occ]] = {}
    for fi, fx in enumerate(fields):
        if len(fx.joined) == 2:
            continue        # no tokens (an empty summary): no key, which has at least one, is in it
        data = None
        for auto in index.automata:            # the base automaton, then the small delta one
            if type(auto) is RsAutomaton:
                if data is None:
                    data = fx.joined.encode("utf-8", "surrogatepass")
                _scan_rs(auto, data, fi, occ)
            else:
                _scan_py(auto, fx.joined, fi, occ)
    for key in index.inner:
        if key in occ:      # *infix* can occur twice in one token: one occurrence per token
            occ[key] = sorted(set(occ[key]))
    if index.case:
        _case_forms(index, fields, occ)
    return occ


def _scan_rs(auto: RsAutomaton, joined: bytes, fi: int, occ: dict[str, list[Occ]]) -> None:
    """The matches of the UTF-8 of a field's joined tokens: byte offsets, but only the
    separators before a match count, and SEP is one byte, so a token's index is the same."""
    count = joined.count
    meta = auto.meta
    k = at = 0
    for i, start, _ in auto.ac.find_matches_as_indexes(joined, True):
        if start >= at:
            k += count(_SEP_BYTE, at, start)
        else:
            k -= count(_SEP_BYTE, start, at)
        at = start
        key, first, last = meta[i]
        found = occ.get(key)
        if found is None:
            occ[key] = [(fi, k + first, k + last)]
        else:
            found.append((fi, k + first, k + last))


_SEP_BYTE = SEP.encode()


def _scan_py(auto: Any, joined: str, fi: int, occ: dict[str, list[Occ]]) -> None:
    """The same with pyahocorasick (compile.ENGINE "py"), which reports end positions."""
    count = joined.count
    k = at = 0
    for end, (key, klen, first, last) in auto.iter(joined):
        start = end - klen + 1
        if start >= at:
            k += count(SEP, at, start)
        else:
            k -= count(SEP, start, at)
        at = start
        found = occ.get(key)
        if found is None:
            occ[key] = [(fi, k + first, k + last)]
        else:
            found.append((fi, k + first, k + last))


def _case_forms(index: Index, fields: list[FieldIndex], occ: dict[str, list[Occ]]) -> None:
    """The occurrences of each case-sensitive form, from those of its plain key: for forms of
    whole single tokens (`{Kallas}`, the common case) each occurrence's case token is read
    once and looked up; other forms are checked one by one.

    Most occurrences of a single-token form's key are of a common word in lower case (` you `,
    ` will `, ` new ` are surnames too): an occurrence whose first original character is ASCII
    and is not the first character of any of the key's forms is passed over without reading
    its case token (FieldIndex.first_chars; for ASCII, the case token starts with that very
    character, so it could not be one of the forms)."""
    tokens = [fx.case_token for fx in fields]
    heads: list[Any] = [None] * len(fields)   # per field: (text, token starts), or () (resized)
    for key in index.case.keys() & occ.keys():
        plain = occ[key]
        single, other, firsts = index.case_split[key]
        if single:
            get = single.get
            for o in plain:
                f = o[0]
                if firsts is not None:
                    head = heads[f]
                    if head is None:
                        head = heads[f] = fields[f].first_chars()
                    if head:
                        c = head[0][head[1][o[1]]]
                        if c < "\x80" and c not in firsts:
                            continue
                pkey = get(tokens[f](o[1]))
                if pkey is not None:
                    found = occ.get(pkey)
                    if found is None:
                        occ[pkey] = [o]
                    else:
                        found.append(o)
        for pkey, term in other:
            found = [o for o in plain if case_ok(term, fields[o[0]], o)]
            if found:
                occ[pkey] = found


def case_ok(term: p.Term, fx: FieldIndex, o: Occ) -> bool:
    assert term.case is not None   # only case-sensitive terms are checked here
    if term.prefix or term.open_start:
        got, want = fx.case_token(o[1]), term.case[0]
        if term.prefix and term.open_start:
            return want in got
        return got.startswith(want) if term.prefix else got.endswith(want)
    return all(fx.case_token(o[1] + i) == c for i, c in enumerate(term.case))


class Context:
    """Occurrences of terms in one article for one rule, with its ignore mask applied."""

    def __init__(self, compiled: Index, occ: dict[str, list[Occ]], fields: list[FieldIndex],
                 mask: set[tuple[int, int]] | None = None):
        self.compiled, self.occ, self.fields, self.mask = compiled, occ, fields, mask
        self.cache: dict[str, list[Occ]] = {}     # pkey -> occurrences left by the mask
        self.hits: dict[Occ, Hit] = {}        # the Hit of a span, made once for hits and why
        self.unblocked: dict[tuple[int, Limits], list[Occ]] = {}   # (id of a NOT NEAR, limits) -> its hits
        self.sides: dict[tuple[int, Limits], list[Occ]] = {}       # (id of an OR side, limits) -> its occurrences
        self.nears: dict[tuple[int, Limits], tuple[list[Occ], list[Occ]]] = {}   # (id of a NEAR/s|p, limits) -> near_sides
        self._lead: Limits | None = None

    def of(self, term: p.Term) -> list[Occ]:
        if not self.mask:       # case forms are checked by scan(); the occurrences are shared
            return self.occ.get(term.pkey, _NONE)
        found = self.cache.get(term.pkey)
        if found is None:
            mask = self.mask
            found = [o for o in self.occ.get(term.pkey, _NONE)
                     if not any((o[0], t) in mask for t in range(o[1], o[2] + 1))]
            self.cache[term.pkey] = found
        return found

    def within(self, term: p.Term, allowed: Limits) -> list[Occ]:
        """The term's occurrences that lie wholly inside the allowed part of each field."""
        found = self.of(term)
        if allowed is ALL:
            return found
        return [o for o in found if o[2] < allowed[o[0]]]

    @property
    def lead(self) -> Limits:
        """v2 lead: the title and the first LEAD_TOKENS tokens of the text (or of the summary
        when the text has no tokens)."""
        if self._lead is None:
            self._lead = (INF, 0, LEAD_TOKENS) if len(self.fields[2]) else (INF, LEAD_TOKENS, 0)
        return self._lead

    def scope(self, allowed: Limits, name: str) -> Limits:
        lim = self.lead if name == "lead" else FIELD_LIMITS[name]
        return (min(allowed[0], lim[0]), min(allowed[1], lim[1]), min(allowed[2], lim[2]))

    def unit_range(self, unit: str, f: int) -> Any:
        """A callable giving the first and last token of the unit holding a token of field f
        (FieldIndex.unit_range); the title is one sentence and one paragraph."""
        return _whole if f == 0 else partial(self.fields[f].unit_range, unit)

    def breaker(self, unit: str, f: int) -> Any:
        """FieldIndex.unit_break of field f for this unit (a callable of two tokens) when it
        is to be asked (FieldIndex.lazy_units), else None: ask bounds()."""
        if f == 0:
            return None
        fx = self.fields[f]
        return partial(fx.unit_break, unit) if fx.lazy_units(unit) else None

    def bounds(self, unit: str, f: int) -> list[int]:
        """The unit bounds of field f (FieldIndex.unit_bounds); none in the title, which is one
        sentence and one paragraph."""
        return _NONE_INT if f == 0 else self.fields[f].unit_bounds(unit)


_NONE_INT: list[int] = []      # never appended to


def _whole(k: int) -> tuple[int, int]:
    return 0, INF


def holds(node: Any, ctx: Context, allowed: Limits = ALL) -> bool:
    if type(node) is p.Term:
        if allowed is ALL:
            return bool(ctx.of(node))
        return any(o[2] < allowed[o[0]] for o in ctx.of(node))
    if isinstance(node, p.Or):
        return any(holds(c, ctx, allowed) for c in node.children)
    if isinstance(node, p.And):
        return all(holds(c, ctx, allowed) for c in node.children)
    if isinstance(node, p.Not):
        return not holds(node.child, ctx, allowed)
    if isinstance(node, p.Scope):
        return holds(node.child, ctx, ctx.scope(allowed, node.field))
    if isinstance(node, p.Near):
        return near_holds(node, ctx, allowed)
    if isinstance(node, p.NotNear):
        return bool(not_near(node, ctx, allowed))
    raise TypeError(node)


def hit_occurrences(node: Any, ctx: Context, allowed: Limits = ALL, negated: bool = False):
    """Lists of occurrences that are hits: every leaf not under a NOT (all its occurrences,
    NEAR sides included), and for A NOT NEAR B the A occurrences with no B in range."""
    if isinstance(node, p.Term):
        if not negated:
            yield ctx.within(node, allowed)
    elif isinstance(node, p.Not):
        yield from hit_occurrences(node.child, ctx, allowed, not negated)
    elif isinstance(node, (p.And, p.Or)):
        for c in node.children:
            yield from hit_occurrences(c, ctx, allowed, negated)
    elif isinstance(node, p.Near):
        yield from hit_occurrences(node.left, ctx, allowed, negated)
        yield from hit_occurrences(node.right, ctx, allowed, negated)
    elif isinstance(node, p.NotNear):
        if not negated:
            yield not_near(node, ctx, allowed)
    elif isinstance(node, p.Scope):
        yield from hit_occurrences(node.child, ctx, ctx.scope(allowed, node.field), negated)


def to_hits(ctx: Context, spans: Iterable[Occ], cap: int = MAX_HITS) -> tuple[Hit, ...]:
    """Hit records (field, original offsets, text) of the first `cap` distinct spans, in
    order (token order within a field is character order, so no second sort is needed)."""
    made = ctx.hits
    wanted = sorted(spans if type(spans) is set else set(spans))[:cap]
    new = [o for o in wanted if o not in made]
    if new:
        fields = ctx.fields
        for f in {o[0] for o in new}:       # the offsets of a field's new spans in one call
            fx = fields[f]
            mine = [o for o in new if o[0] == f]
            text, name = fx.text, FIELDS[f]
            for o, (s, e) in zip(mine, fx.spans([(o[1], o[2]) for o in mine])):
                made[o] = record(Hit, {"field": name, "start": s, "end": e, "text": text[s:e]})
    return tuple(map(made.__getitem__, wanted))


def hit_spans(rule: Rule, ctx: Context) -> set[Occ]:
    """The spans of hit_occurrences(rule.query_ast), added to one set by a plain recursion
    (a generator per node cost more than the spans)."""
    spans: set[Occ] = set()
    _add_hits(rule.query_ast, ctx, ALL, False, spans)
    return spans


def _add_hits(node: Any, ctx: Context, allowed: Limits, negated: bool, spans: set[Occ]) -> None:
    kind = type(node)
    if kind is p.Term:
        if not negated:
            spans.update(ctx.occ.get(node.pkey, _NONE) if allowed is ALL and not ctx.mask
                         else ctx.within(node, allowed))
    elif kind is p.Or or kind is p.And:
        for c in node.children:
            _add_hits(c, ctx, allowed, negated, spans)
    elif kind is p.Not:
        _add_hits(node.child, ctx, allowed, not negated, spans)
    elif kind is p.Near:
        _add_hits(node.left, ctx, allowed, negated, spans)
        _add_hits(node.right, ctx, allowed, negated, spans)
    elif kind is p.NotNear:
        if not negated:
            spans.update(not_near(node, ctx, allowed))
    elif kind is p.Scope:
        _add_hits(node.child, ctx, ctx.scope(allowed, node.field), negated, spans)


def applies(rule: Rule, doc: Any, lang: str | None = None) -> bool:
    """The enabled, language and feed filters (`lang`: doc_language(doc), when known)."""
    if not rule.enabled:
        return False
    if rule.languages:
        lang = doc_language(doc) if lang is None else lang
        if lang and lang not in rule.languages:
            return False
    if rule.feeds and not set(rule.feeds) & doc_feed_tags(doc):
        return False
    return True


def doc_language(doc: Any) -> str:
    return (getattr(doc, "language", "") or "").lower().split("-")[0].split("_")[0]


def doc_feed_tags(doc: Any) -> set[str]:
    tags = getattr(doc, "feed_tags", ()) or ()
    if isinstance(tags, str):
        tags = json.loads(tags) if tags.startswith("[") else [tags]
    return set(tags)


def mask_of(rule: Rule, ctx: Context) -> set[tuple[int, int]]:
    mask: set[tuple[int, int]] = set()
    for found in hit_occurrences(rule.ignore_ast, ctx):
        for f, a, b in found:
            mask.update((f, t) for t in range(a, b + 1))
    return mask


def evaluate(rule: Rule, compiled: Index, occ: dict[str, list[Occ]], fields: list[FieldIndex],
             plain: Context) -> Match | None:
    """The match of one rule on one scanned article, or None."""
    ctx = plain
    if rule.ignore_ast is not None:
        mask = mask_of(rule, plain)
        if mask:
            ctx = Context(compiled, occ, fields, mask)
    if not holds(rule.query_ast, ctx):
        return None
    spans = hit_spans(rule, ctx)
    if len(spans) < rule.min_hits:     # counted before any cap on the hits recorded
        return None
    if rule.exclude_ast is not None and holds(rule.exclude_ast, plain):
        return None
    return _match(rule, ctx, spans)


def _match(rule: Rule, ctx: Context, spans: set[Occ]) -> Match:
    clauses = explain_why(rule, ctx)
    why = tuple(record(Why, {"clause": words, "hits": to_hits(ctx, occs),
                             "sides": tuple(record(Why, {"clause": w, "hits": to_hits(ctx, o), "sides": (), "branch": 0})
                                            for w, o in sides), "branch": branch})
                for branch, words, occs, sides in clauses)
    found = to_hits(ctx, spans)
    if len(spans) > MAX_HITS:       # the decisive hits are recorded even beyond the cap
        decisive = {h for w in why for h in w.all_hits()}.difference(found)
        if decisive:
            found = tuple(sorted((*found, *decisive), key=lambda h: (FIELDS.index(h.field), h.start, h.end)))
    return record(Match, {"rule": rule.id, "priority": rule.priority, "title": rule.title, "tags": rule.tags,
                          "channels": rule.channels, "hits": found, "why": why, "hit_count": len(spans)})


def renamed(m: Match, rule: Rule) -> Match:
    """A match made for another rule of the same plan (compile.py), as this rule's: its
    hits, why and count with this rule's name, priority, title, tags and channels."""
    return record(Match, {"rule": rule.id, "priority": rule.priority, "title": rule.title, "tags": rule.tags,
                          "channels": rule.channels, "hits": m.hits, "why": m.why, "hit_count": m.hit_count})


def verdict(rule: Rule, compiled: Index, occ: dict[str, list[Occ]], fields: list[FieldIndex],
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
    spans = hit_spans(rule, ctx)
    if len(spans) < rule.min_hits:
        return None, f"only {len(spans)} hit(s), min_hits is {rule.min_hits}"
    if rule.exclude_ast is not None and holds(rule.exclude_ast, plain):
        return None, "vetoed by exclude"
    return _match(rule, ctx, spans), "fired"


from monitor.match.why import explain_why  # noqa: E402  (why.py builds on the definitions above)
