"""The query language: lexer and recursive-descent parser from a query string to an AST.

Owns the syntax (operators, precedence, terms) and syntax errors with the 0-based
offset of the offending token inside the query string. Entity references stay
unresolved here; rules.py resolves them and turns offsets into FILE:LINE:COL.
Must not read files or evaluate anything.

Precedence, tightest first: field scope, NOT, NEAR/n (and the v2 proximity forms
ONEAR/n, NEAR/s, NEAR/p, NOT NEAR/...), AND (also implicit), OR. Every node keeps the
span of query text it was parsed from, so explanations can quote the rule's own words.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache
from typing import NamedTuple

from monitor.match.nodes import (  # noqa: F401  (re-exported: the tree is part of parse's API)
    And,
    Entity,
    Near,
    Not,
    NotNear,
    Or,
    Scope,
    Span,
    Term,
    leaves,
    positive,
    uses_operators,
    walk_terms,
)
from monitor.match.text import case_tokens, normalise

FIELDS = ("title", "summary", "text")
SCOPES = FIELDS + ("lead",)    # lead: the title and the first LEAD_TOKENS tokens of the text (v2)
MIN_PREFIX = 3
MAX_NESTING = 50     # parentheses and NOTs inside each other; the parser and evaluator recurse
MIN_INFIX = 4                  # letters or digits of a leading wildcard, *union / *verteidigung* (v2)
UNITS = ("s", "p")             # NEAR/s: same sentence, NEAR/p: same paragraph (v2)


class QuerySyntaxError(Exception):
    def __init__(self, message: str, offset: int):
        super().__init__(message)
        self.message = message
        self.offset = offset


# -- lexer ----------------------------------------------------------------------------
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<phrase>"[^"]*"?)
  | (?P<case>\{[^}]*\}?)
  | (?P<word>[^\s()"{}]+)
  | (?P<rbrace>\})
""", re.VERBOSE)
_FIELD = re.compile(r"([A-Za-z_]+):")
_NEAR = re.compile(r"O?NEAR(?:/(\S*))?$")
_ENTITY = re.compile(r"@([a-z0-9_-]+)$")
_LOWER_OPERATOR = re.compile(r"(?:and|or|not|near(?:/\w+)?)$", re.IGNORECASE)
# a superset of the words lowercase_operators flags: and/or/not/near standing alone, in any
# case but all upper (the operators themselves, in nearly every query, are no candidates)
_MAYBE_LOWER = re.compile(r"(?<![^\s()\"{}])(?!(?-i:AND|OR|NOT|NEAR)(?=[\s()\"{}/]|$))"
                          r"(?:and|or|not|near)(?=[\s()\"{}/]|$)", re.IGNORECASE)


class Lex(NamedTuple):     # a tuple: made for every lexeme of every query, cheaply
    kind: str       # ( ) term op field
    value: str
    offset: int
    end: int = 0    # offset just past the lexeme in the query

    @property
    def is_near(self) -> bool:
        return self.kind == "op" and self.value not in ("AND", "OR", "NOT")


def lex(query: str) -> list[Lex]:
    out: list[Lex] = []
    pos = 0
    end = len(query)
    match, field_match = _TOKEN.match, _FIELD.match
    while pos < end:
        m = match(query, pos)
        assert m is not None  # the alternatives cover every character
        kind = m.lastgroup or ""
        after = m.end()
        if kind == "ws":
            pos = after
            continue
        if kind == "rbrace":
            raise QuerySyntaxError("unmatched '}'", pos)
        text = m.group()
        if kind == "word":
            fm = field_match(query, pos)
            if fm:
                out.append(Lex("field", fm.group(1), pos, fm.end()))
                pos = fm.end()
                continue
            if text in _OPS or text[:1] in "NO" and _NEAR.match(text):
                kind = "op"
        out.append(Lex(kind, text, pos, after))
        pos = after
    return out


_OPS = frozenset(("AND", "OR", "NOT"))


def lowercase_operators(query: str) -> list[tuple[int, str]]:
    """(offset, word) for every and/or/not/near (any case but upper) standing between two
    operands, where it is matched as a word but was almost certainly meant as an operator."""
    if _MAYBE_LOWER.search(query) is None:
        return []       # no such word at all (nearly every query): no second lexing
    try:
        toks = lex(query)
    except Exception:  # noqa: BLE001 - a query that does not lex has its own error
        return []
    out = []
    for before, lx, after in zip(toks, toks[1:], toks[2:], strict=False):
        if (lx.kind == "word" and _LOWER_OPERATOR.match(lx.value) and not lx.value.isupper()
                and before.kind in ("word", "phrase", "case", "rparen")
                and after.kind in ("word", "phrase", "case", "lparen", "field")):
            out.append((lx.offset, lx.value))
    return out


# -- terms ----------------------------------------------------------------------------
@lru_cache(maxsize=1 << 16)
def _norm(text: str) -> tuple[str, ...]:
    """normalise(), remembered: watch lists repeat the same words in thousands of rules."""
    return tuple(normalise(text))


@lru_cache(maxsize=1 << 16)
def _case(text: str) -> tuple[str, ...]:
    return tuple(case_tokens(text))


def make_term(lx: Lex) -> Term | Entity:
    return _term(lx.value, lx.offset)


@lru_cache(maxsize=1 << 17)
def _term(text: str, off: int) -> Term | Entity:
    """The leaf of one term lexeme: a phrase starts with '"', a {...} with '{', else a word.
    Remembered: a leaf is immutable, and watch lists repeat the same context words at the
    same offsets in thousands of rules (one shared object each, not a copy per rule)."""
    first = text[:1]
    if first == '"':
        if len(text) < 2 or not text.endswith('"'):
            raise QuerySyntaxError("unclosed quote", off)
        return _words(text[1:-1], text, off, case=False)
    if first == "{":
        if not text.endswith("}"):
            raise QuerySyntaxError("unclosed '{'", off)
        inner = text[1:-1].strip()
        if inner.startswith('"'):
            if len(inner) < 2 or not inner.endswith('"'):
                raise QuerySyntaxError("unclosed quote", off)
            return _words(inner[1:-1], text, off, case=True)
        return _word(inner, text, off, case=True)
    if text.startswith("@"):
        m = _ENTITY.match(text)
        if not m:
            raise QuerySyntaxError(f"bad entity reference {text!r} (names are [a-z0-9_-]+)", off)
        return Entity(m.group(1), off)
    return _word(text, text, off, case=False)


def _word(text: str, source: str, off: int, case: bool) -> Term:
    if text.startswith("-") and len(text) > 1 and text[1].isalnum():
        raise QuerySyntaxError(f"{text!r}: write 'NOT {text[1:]}' to exclude a word", off)
    open_end = text.endswith("*") and len(text) > 1
    open_start = text.startswith("*")
    stem = text[1 if open_start else 0:len(text) - 1 if open_end else len(text)]
    if "*" in stem or "?" in stem:
        raise QuerySyntaxError(f"{text!r}: a wildcard is only allowed at the start or the end of a word", off)
    if not (open_start or open_end):
        return _words(text, source, off, case)
    toks = _norm(stem)
    what = "a wildcard" if open_start else "a prefix"
    if len(toks) > 1:
        raise QuerySyntaxError(f"{text!r}: {what} must be a single word", off)
    if open_start and sum(c.isalnum() for c in stem) < MIN_INFIX:
        raise QuerySyntaxError(f"{text!r}: a leading wildcard needs at least {MIN_INFIX} letters or digits", off)
    if not toks or len(toks[0]) < MIN_PREFIX:
        raise QuerySyntaxError(f"{text!r}: a prefix needs at least {MIN_PREFIX} characters", off)
    ctoks = _case(stem) if case else None
    if ctoks is not None and len(ctoks) != 1:
        ctoks = None   # pathological Unicode: fall back to case-insensitive
    return Term(toks, open_end, ctoks, source, off, open_start)


def _words(text: str, source: str, off: int, case: bool) -> Term:
    toks = _norm(text)
    if not toks:
        raise QuerySyntaxError(f"{source!r} has no letters or digits to match", off)
    ctoks = _case(text) if case else None
    if ctoks is not None and len(ctoks) != len(toks):
        ctoks = None   # pathological Unicode: fall back to case-insensitive
    return Term(toks, False, ctoks, source, off)


# -- parser ---------------------------------------------------------------------------
class _Parser:
    def __init__(self, query: str):
        self.query = query
        self.toks = lex(query)
        self.ahead = [*self.toks, None]     # peek() without a bounds check (called ~40 times a query)
        self.i = 0
        self.depth = 0

    def nest(self, lx: Lex) -> None:
        """Enter one more level of ( or NOT; refuse before recursion could run out of stack."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise QuerySyntaxError(f"nested more than {MAX_NESTING} levels deep (parentheses or NOT)", lx.offset)

    def peek(self) -> Lex | None:
        return self.ahead[self.i]

    def take(self) -> Lex:
        lx = self.toks[self.i]
        self.i += 1
        return lx

    def end_offset(self) -> int:
        return len(self.query)

    def span_from(self, first: int) -> Span:
        """The query text from lexeme `first` to the last lexeme taken."""
        return (self.toks[first].offset, self.toks[self.i - 1].end)

    def parse(self) -> object:
        if not self.toks:
            raise QuerySyntaxError("empty query", 0)
        node = self.or_expr()
        lx = self.peek()
        if lx is not None:
            if lx.kind == "rparen":
                raise QuerySyntaxError("unmatched ')'", lx.offset)
            raise QuerySyntaxError(f"unexpected {lx.value!r}", lx.offset)
        return node

    def operand_missing(self, after: Lex) -> QuerySyntaxError:
        nxt = self.peek()
        where = nxt.offset if nxt else after.offset
        what = "the end of the query" if nxt is None else repr(nxt.value)
        return QuerySyntaxError(f"{after.value} needs an operand on its right, found {what}", where)

    def or_expr(self) -> object:
        first = self.i
        parts = [self.and_expr()]
        while (lx := self.peek()) and lx.kind == "op" and lx.value == "OR":
            self.take()
            if not self.starts_operand():
                raise self.operand_missing(lx)
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else Or(tuple(parts), self.span_from(first))

    def starts_operand(self) -> bool:
        lx = self.peek()
        return lx is not None and (lx.kind in ("lparen", "phrase", "case", "word", "field")
                                   or lx.kind == "op" and lx.value == "NOT")

    def and_expr(self) -> object:
        first = self.i
        parts = [self.near_expr()]
        while True:
            lx = self.peek()
            if lx is not None and lx.kind == "op" and lx.value == "AND":
                self.take()
                if not self.starts_operand():
                    raise self.operand_missing(lx)
            elif not self.starts_operand():
                break
            parts.append(self.near_expr())
        return parts[0] if len(parts) == 1 else And(tuple(parts), self.span_from(first))

    def near_ahead(self) -> bool:
        """At a proximity operator: NEAR/…, ONEAR/…, or NOT followed by one (NOT NEAR/…)."""
        lx = self.peek()
        if lx is None or lx.kind != "op":
            return False
        if lx.is_near:
            return True
        nxt = self.toks[self.i + 1] if self.i + 1 < len(self.toks) else None
        return lx.value == "NOT" and nxt is not None and nxt.is_near

    def near_expr(self) -> object:
        first = self.i
        left = self.not_expr()
        while self.near_ahead():
            lx = self.take()
            negated = lx.value == "NOT"
            if negated:
                lx = self.take()
            if negated and lx.value.startswith("ONEAR"):
                raise QuerySyntaxError("NOT ONEAR is not a form: write NOT NEAR/n (it looks both ways)", lx.offset)
            distance, unit = _proximity(lx)
            if not self.starts_operand():
                raise self.operand_missing(lx)
            right = self.not_expr()
            name = ("NOT " if negated else "") + lx.value.split("/")[0]
            if negated and not positive(left):
                raise QuerySyntaxError("NOT NEAR: the left side must be positive (a word, phrase, "
                                       "wildcard, {...}, @entity or OR-group of those)", lx.offset)
            for side in (left, right):
                _check_near_operand(side, lx.offset, name)
            span = self.span_from(first)
            if negated:
                left = NotNear(left, right, distance, lx.offset, span, unit)
            else:
                left = Near(left, right, distance, lx.offset, span, unit, lx.value.startswith("ONEAR"))
        return left

    def not_expr(self) -> object:
        lx = self.peek()
        if lx is not None and lx.kind == "op" and lx.value == "NOT":
            first = self.i
            self.take()
            if not self.starts_operand():
                raise self.operand_missing(lx)
            self.nest(lx)
            child = self.not_expr()
            self.depth -= 1
            return Not(child, lx.offset, self.span_from(first))
        return self.scoped()

    def scoped(self) -> object:
        lx = self.peek()
        if lx is not None and lx.kind == "field":
            first = self.i
            self.take()
            if lx.value not in SCOPES:
                raise QuerySyntaxError(f"unknown field {lx.value!r} (fields: {', '.join(SCOPES)})", lx.offset)
            nxt = self.peek()
            if nxt is None or nxt.kind not in ("lparen", "phrase", "case", "word"):
                raise QuerySyntaxError(f"{lx.value}: needs a word, phrase, prefix, {{...}}, @entity "
                                       "or (group) right after the colon", lx.offset)
            child = self.primary()
            return Scope(lx.value, child, lx.offset, self.span_from(first))
        return self.primary()

    def primary(self) -> object:
        lx = self.peek()
        if lx is None:
            raise QuerySyntaxError("unexpected end of query", self.end_offset())
        if lx.kind == "lparen":
            first = self.i
            self.take()
            if (nxt := self.peek()) and nxt.kind == "rparen":
                raise QuerySyntaxError("empty parentheses", lx.offset)
            self.nest(lx)
            node = self.or_expr()
            self.depth -= 1
            close = self.peek()
            if close is None or close.kind != "rparen":
                raise QuerySyntaxError("unclosed '('", lx.offset)
            self.take()
            # a group's words include its parentheses: "(EU OR NATO)"
            if isinstance(node, (Term, Entity)):
                return node     # a word's or an entity's span is its own: "(@eu)" is "@eu"
            return replace(node, span=self.span_from(first))  # type: ignore[type-var]
        if lx.kind == "rparen":
            raise QuerySyntaxError("unmatched ')'", lx.offset)
        if lx.kind == "op":
            raise QuerySyntaxError(f"{lx.value} needs an operand on its left", lx.offset)
        self.take()
        return make_term(lx)


def _proximity(lx: Lex) -> tuple[int, str]:
    """The distance and unit of a NEAR/n, ONEAR/n, NEAR/s or NEAR/p lexeme."""
    name, _, suffix = lx.value.partition("/")
    if not suffix:
        raise QuerySyntaxError(f"{name} needs a distance, e.g. {name}/5"
                               + (", or /s (same sentence) or /p (same paragraph)" if name == "NEAR" else ""),
                               lx.offset)
    if suffix in UNITS:
        if name == "ONEAR":
            raise QuerySyntaxError(f"ONEAR/{suffix} is not a form: ONEAR takes a distance (ONEAR/5); "
                                   f"use NEAR/{suffix} for the same {'sentence' if suffix == 's' else 'paragraph'}",
                                   lx.offset)
        return 0, suffix
    if suffix.lower() in UNITS:
        raise QuerySyntaxError(f"{name}/{suffix}: write NEAR/{suffix.lower()} (lowercase) for the same "
                               f"{'sentence' if suffix.lower() == 's' else 'paragraph'}", lx.offset)
    if not suffix.isdigit() or int(suffix) < 1:
        raise QuerySyntaxError(f"{name}/{suffix}: the distance must be a positive whole number"
                               + (" (or s / p)" if name == "NEAR" else ""), lx.offset)
    return int(suffix), ""


def _check_near_operand(node: object, offset: int, name: str = "NEAR") -> None:
    if _near_side(node):
        return
    raise QuerySyntaxError(f"{name} can only join words, phrases, prefixes, {{...}}, @entities "
                           "or parenthesised OR-groups of those", offset)


# -- the fast path ---------------------------------------------------------------------
# Loading 100,000 rules parses 100,000+ queries (issue 21). The parser above makes a call
# per lexeme and several per operand; the one below lexes a whole query with one regex and
# descends over flat lists, passing the position along. It builds the very same trees, but
# knows no error message: at anything the parser above would refuse (or cannot lex), or
# anything unusual (deep nesting), it gives up and the query is parsed again above, which
# then reports the error with its offset. Equal trees, spans included, for every query it
# accepts: tests/test_match_parse_fast.py (examples and a Hypothesis property).

# field name, AND/OR/NOT, NEAR/ONEAR (the `op` words of lex()), other word, phrase or {...},
# ( and ), anything else that is not a space (a stray '}', an error lex() reports)
_LEXEME = re.compile(r'([A-Za-z_]+):|(AND|OR|NOT)(?![^\s()"{}])|(O?NEAR(?:/[^\s()"{}]*)?)(?![^\s()"{}])'
                     r'|([^\s()"{}]+)|("[^"]*"?|\{[^}]*\}?)|(\()|(\))|(\S)')
_KIND = (None, "f", None, "NEAR", "t", "t", "(", ")", None)   # by group; None: the text (AND, OR, NOT)
_STARTS = frozenset(("(", "t", "f", "NOT"))     # what starts an operand (starts_operand above)
_OR_ENDS = frozenset(("OR", ")", ""))           # after a word: it is an operand of OR as it is (no AND, NEAR)
_NEAR_NEXT = frozenset(("NEAR", "NOT"))         # after a word: it may be a side of NEAR or NOT NEAR
_SCOPES = frozenset(SCOPES)


class _GiveUp(Exception):
    """The fast path cannot build this query; the full parser takes it (and its error)."""


@lru_cache(maxsize=256)
def _near_form(value: str) -> tuple[int, str]:
    return _proximity(Lex("op", value, 0))


def _fast_lex(query: str) -> tuple[list[str], list[str], list[int], list[int]] | None:
    """Kinds ( ) t f AND OR NOT NEAR (t: a term, f: a field), values, offsets, ends, as lex()
    would give them; two sentinel kinds "" at the end. None for a stray '}'."""
    found = list(_LEXEME.finditer(query))
    groups = [m.lastindex for m in found]
    if 8 in groups:
        return None
    values = [m[n] for m, n in zip(found, groups)]    # type: ignore[index]
    kinds = [_KIND[n] or v for n, v in zip(groups, values)]   # type: ignore[index]
    kinds += ("", "")
    return kinds, values, [m.start() for m in found], [m.end() for m in found]


def _fast_parse(query: str) -> object:
    lexed = _fast_lex(query)
    if lexed is None:
        raise _GiveUp
    kinds = lexed[0]
    if len(kinds) == 2 or kinds.count("(") + kinds.count("NOT") > MAX_NESTING:
        raise _GiveUp           # empty, or nested deeply enough to need the depth check
    fast = _Fast(*lexed)
    node, i = fast.or_(0)
    if kinds[i] != "":
        raise _GiveUp
    return node


class _Fast:
    """The descent of the fast path: each level takes a position and gives (node, next position)."""

    __slots__ = ("kinds", "values", "offs", "ends")

    def __init__(self, kinds: list[str], values: list[str], offs: list[int], ends: list[int]):
        self.kinds, self.values, self.offs, self.ends = kinds, values, offs, ends

    def or_(self, i: int) -> tuple[object, int]:
        first = i
        kinds = self.kinds
        node: object
        if kinds[i] == "t" and kinds[i + 1] in _OR_ENDS:    # a bare word: what and_ would give
            node, i = _term(self.values[i], self.offs[i]), i + 1
        else:
            node, i = self.and_(i)
        if kinds[i] != "OR":
            return node, i
        parts = [node]
        values, offs = self.values, self.offs
        while kinds[i] == "OR":
            i += 1
            k = kinds[i]
            if k == "t" and kinds[i + 1] in _OR_ENDS:        # the words of a group, most ORs
                parts.append(_term(values[i], offs[i]))
                i += 1
                continue
            if k not in _STARTS:
                raise _GiveUp
            node, i = self.and_(i)
            parts.append(node)
        return Or(tuple(parts), (offs[first], self.ends[i - 1])), i

    def and_(self, i: int) -> tuple[object, int]:
        first = i
        node, i = self.near_(i)
        kinds = self.kinds
        k = kinds[i]
        if k != "AND" and k not in _STARTS:
            return node, i
        parts = [node]
        while True:
            k = kinds[i]
            if k == "AND":
                i += 1
                if kinds[i] not in _STARTS:
                    raise _GiveUp
            elif k not in _STARTS:
                break
            if kinds[i] == "t" and kinds[i + 1] not in _NEAR_NEXT:   # a bare word: what near_ would give
                parts.append(_term(self.values[i], self.offs[i]))
                i += 1
                continue
            node, i = self.near_(i)
            parts.append(node)
        return And(tuple(parts), (self.offs[first], self.ends[i - 1])), i

    def near_(self, i: int) -> tuple[object, int]:
        first = i
        left, i = self.not_(i)
        kinds = self.kinds
        while True:
            k = kinds[i]
            if k == "NEAR":
                negated = False
            elif k == "NOT" and kinds[i + 1] == "NEAR":
                negated = True
                i += 1
            else:
                return left, i
            value = self.values[i]
            ordered = value[0] == "O"
            if negated and (ordered or not positive(left)):
                raise _GiveUp
            distance, unit = _near_form(value)
            at = self.offs[i]
            i += 1
            if kinds[i] not in _STARTS:
                raise _GiveUp
            right, i = self.not_(i)
            if not (_near_side(left) and _near_side(right)):
                raise _GiveUp
            span = (self.offs[first], self.ends[i - 1])
            if negated:
                left = NotNear(left, right, distance, at, span, unit)
            else:
                left = Near(left, right, distance, at, span, unit, ordered)

    def not_(self, i: int) -> tuple[object, int]:
        k = self.kinds[i]
        if k == "t":
            return _term(self.values[i], self.offs[i]), i + 1
        if k == "NOT":
            first = i
            i += 1
            if self.kinds[i] not in _STARTS:
                raise _GiveUp
            child, i = self.not_(i)
            return Not(child, self.offs[first], (self.offs[first], self.ends[i - 1])), i
        if k == "f":
            first = i
            if self.values[i] not in _SCOPES or self.kinds[i + 1] not in ("(", "t"):
                raise _GiveUp
            child, i = self.primary(i + 1)
            return Scope(self.values[first], child, self.offs[first], (self.offs[first], self.ends[i - 1])), i
        return self.primary(i)

    def primary(self, i: int) -> tuple[object, int]:
        kinds = self.kinds
        k = kinds[i]
        if k == "t":
            return _term(self.values[i], self.offs[i]), i + 1
        if k != "(" or kinds[i + 1] == ")":
            raise _GiveUp
        first = i
        node, i = self.or_(i + 1)
        if kinds[i] != ")":
            raise _GiveUp
        i += 1
        span = (self.offs[first], self.ends[i - 1])   # a group's words include its parentheses: "(EU OR NATO)"
        kind = type(node)
        if kind is Or:
            return Or(node.children, span, node.entity), i   # type: ignore[attr-defined]
        if kind is And:
            return And(node.children, span), i               # type: ignore[attr-defined]
        if kind is Term or kind is Entity:
            return node, i
        return replace(node, span=span), i  # type: ignore[type-var]


def _near_side(node: object) -> bool:
    """What NEAR may join (both parsers): a term, an entity, or an OR of those."""
    kind = type(node)
    if kind is Term or kind is Entity:
        return True
    return kind is Or and all(type(c) is Term or type(c) is Entity for c in node.children)  # type: ignore[attr-defined]


def parse(query: str) -> object:
    """The AST of a query; raises QuerySyntaxError with the offset of the problem.
    Remembered during a load (trees are immutable, and watch lists repeat the same excludes
    and context groups in thousands of rules: one tree each, not a parse per rule)."""
    tree = _PARSED.get(query)
    if tree is None:
        try:
            tree = _fast_parse(query)
        except (_GiveUp, QuerySyntaxError, RecursionError):
            tree = _Parser(query).parse()
        if len(_PARSED) < 1 << 17:
            _PARSED[query] = tree
    return tree


_PARSED: dict[str, object] = {}


def forget_terms() -> None:
    """Drop the remembered leaves and trees (after a load: they would outlive a replaced rule set)."""
    _term.cache_clear()
    _PARSED.clear()


def parse_full(query: str) -> object:
    """parse() by the full parser alone (the reference of the fast path, for tests)."""
    return _Parser(query).parse()
