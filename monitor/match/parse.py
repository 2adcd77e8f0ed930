"""The query language: lexer and recursive-descent parser from a query string to an AST.

Owns the syntax (operators, precedence, terms) and syntax errors with the 0-based
offset of the offending token inside the query string. Entity references stay
unresolved here; rules.py resolves them and turns offsets into FILE:LINE:COL.
Must not read files or evaluate anything.

Precedence, tightest first: field scope, NOT, NEAR/n, AND (also implicit), OR.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.match.text import SEP, case_tokens, normalise

FIELDS = ("title", "summary", "text")
MIN_PREFIX = 3
MAX_NESTING = 50     # parentheses and NOTs inside each other; the parser and evaluator recurse


class QuerySyntaxError(Exception):
    def __init__(self, message: str, offset: int):
        super().__init__(message)
        self.message = message
        self.offset = offset


# -- AST ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Term:
    """A word, phrase or prefix; `case` holds the exact-case tokens of a `{...}` term."""

    tokens: tuple[str, ...]
    prefix: bool = False
    case: tuple[str, ...] | None = None
    source: str = ""
    offset: int = 0

    @property
    def key(self) -> str:
        """The automaton key: normalised tokens between separators (a prefix stays open)."""
        body = SEP + SEP.join(self.tokens)
        return body if self.prefix else body + SEP


@dataclass(frozen=True)
class Entity:
    name: str
    offset: int = 0


@dataclass(frozen=True)
class Not:
    child: object
    offset: int = 0


@dataclass(frozen=True)
class And:
    children: tuple


@dataclass(frozen=True)
class Or:
    children: tuple


@dataclass(frozen=True)
class Near:
    left: object
    right: object
    distance: int
    offset: int = 0


@dataclass(frozen=True)
class Scope:
    field: str
    child: object
    offset: int = 0


# -- lexer ----------------------------------------------------------------------------
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<phrase>"[^"]*"?)
  | (?P<case>\{[^}]*\}?)
  | (?P<word>[^\s()"{}]+)
""", re.VERBOSE)
_FIELD = re.compile(r"([A-Za-z_]+):")
_NEAR = re.compile(r"NEAR(?:/(\S*))?$")
_ENTITY = re.compile(r"@([a-z0-9_-]+)$")


@dataclass(frozen=True)
class Lex:
    kind: str       # ( ) term op field
    value: str
    offset: int


def lex(query: str) -> list[Lex]:
    out: list[Lex] = []
    pos = 0
    while pos < len(query):
        m = _TOKEN.match(query, pos)
        assert m is not None  # the alternatives cover every character
        kind, text = m.lastgroup or "", m.group(0)
        if kind == "word":
            fm = _FIELD.match(query, pos)
            if fm:
                out.append(Lex("field", fm.group(1), pos))
                pos = fm.end()
                continue
            kind = "op" if text in ("AND", "OR", "NOT") or text.startswith("NEAR") and _NEAR.match(text) else kind
        if kind != "ws":
            out.append(Lex(kind, text, pos))
        pos = m.end()
    return out


# -- terms ----------------------------------------------------------------------------
def make_term(lx: Lex) -> Term | Entity:
    text, off = lx.value, lx.offset
    if lx.kind == "phrase":
        if len(text) < 2 or not text.endswith('"'):
            raise QuerySyntaxError("unclosed quote", off)
        return _words(text[1:-1], text, off, case=False)
    if lx.kind == "case":
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
    stem = text[:-1] if text.endswith("*") else text
    if "*" in stem or "?" in stem:
        raise QuerySyntaxError(f"{text!r}: a wildcard is only allowed at the end of a word", off)
    if stem is text:
        return _words(text, source, off, case)
    toks = normalise(stem)
    if len(toks) != 1:
        raise QuerySyntaxError(f"{text!r}: a prefix must be a single word", off)
    if len(toks[0]) < MIN_PREFIX:
        raise QuerySyntaxError(f"{text!r}: a prefix needs at least {MIN_PREFIX} characters", off)
    return Term(tuple(toks), True, tuple(case_tokens(stem)) if case else None, source, off)


def _words(text: str, source: str, off: int, case: bool) -> Term:
    toks = normalise(text)
    if not toks:
        raise QuerySyntaxError(f"{source!r} has no letters or digits to match", off)
    ctoks = tuple(case_tokens(text)) if case else None
    if ctoks is not None and len(ctoks) != len(toks):
        ctoks = None   # pathological Unicode: fall back to case-insensitive
    return Term(tuple(toks), False, ctoks, source, off)


# -- parser ---------------------------------------------------------------------------
class _Parser:
    def __init__(self, query: str):
        self.query = query
        self.toks = lex(query)
        self.i = 0
        self.depth = 0

    def nest(self, lx: Lex) -> None:
        """Enter one more level of ( or NOT; refuse before recursion could run out of stack."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise QuerySyntaxError(f"nested more than {MAX_NESTING} levels deep (parentheses or NOT)", lx.offset)

    def peek(self) -> Lex | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> Lex:
        lx = self.toks[self.i]
        self.i += 1
        return lx

    def end_offset(self) -> int:
        return len(self.query)

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
        parts = [self.and_expr()]
        while (lx := self.peek()) and lx.kind == "op" and lx.value == "OR":
            self.take()
            if not self.starts_operand():
                raise self.operand_missing(lx)
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def starts_operand(self) -> bool:
        lx = self.peek()
        return lx is not None and (lx.kind in ("lparen", "phrase", "case", "word", "field")
                                   or lx.kind == "op" and lx.value == "NOT")

    def and_expr(self) -> object:
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
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def near_expr(self) -> object:
        left = self.not_expr()
        while (lx := self.peek()) and lx.kind == "op" and lx.value.startswith("NEAR"):
            self.take()
            near = _NEAR.match(lx.value)
            n = near.group(1) if near else None
            if n is None:
                raise QuerySyntaxError("NEAR needs a distance, e.g. NEAR/5", lx.offset)
            if not n.isdigit() or int(n) < 1:
                raise QuerySyntaxError(f"NEAR/{n}: the distance must be a positive whole number", lx.offset)
            if not self.starts_operand():
                raise self.operand_missing(lx)
            right = self.not_expr()
            for side in (left, right):
                _check_near_operand(side, lx.offset)
            left = Near(left, right, int(n), lx.offset)
        return left

    def not_expr(self) -> object:
        lx = self.peek()
        if lx is not None and lx.kind == "op" and lx.value == "NOT":
            self.take()
            if not self.starts_operand():
                raise self.operand_missing(lx)
            self.nest(lx)
            child = self.not_expr()
            self.depth -= 1
            return Not(child, lx.offset)
        return self.scoped()

    def scoped(self) -> object:
        lx = self.peek()
        if lx is not None and lx.kind == "field":
            self.take()
            if lx.value not in FIELDS:
                raise QuerySyntaxError(f"unknown field {lx.value!r} (fields: {', '.join(FIELDS)})", lx.offset)
            nxt = self.peek()
            if nxt is None or nxt.kind not in ("lparen", "phrase", "case", "word"):
                raise QuerySyntaxError(f"{lx.value}: needs a word, phrase, prefix, {{...}}, @entity "
                                       "or (group) right after the colon", lx.offset)
            return Scope(lx.value, self.primary(), lx.offset)
        return self.primary()

    def primary(self) -> object:
        lx = self.peek()
        if lx is None:
            raise QuerySyntaxError("unexpected end of query", self.end_offset())
        if lx.kind == "lparen":
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
            return node
        if lx.kind == "rparen":
            raise QuerySyntaxError("unmatched ')'", lx.offset)
        if lx.kind == "op":
            raise QuerySyntaxError(f"{lx.value} needs an operand on its left", lx.offset)
        self.take()
        return make_term(lx)


def _check_near_operand(node: object, offset: int) -> None:
    if isinstance(node, (Term, Entity)):
        return
    if isinstance(node, Or) and all(isinstance(c, (Term, Entity)) for c in node.children):
        return
    raise QuerySyntaxError("NEAR can only join words, phrases, prefixes, {...}, @entities "
                           "or parenthesised OR-groups of those", offset)


def parse(query: str) -> object:
    """The AST of a query; raises QuerySyntaxError with the offset of the problem."""
    return _Parser(query).parse()


def walk_terms(node: object, negated: bool = False):
    """Yield (node, negated) for every Term and Entity in the tree."""
    if isinstance(node, (Term, Entity)):
        yield node, negated
    elif isinstance(node, Not):
        yield from walk_terms(node.child, not negated)
    elif isinstance(node, (And, Or)):
        for c in node.children:
            yield from walk_terms(c, negated)
    elif isinstance(node, Near):
        yield from walk_terms(node.left, negated)
        yield from walk_terms(node.right, negated)
    elif isinstance(node, Scope):
        yield from walk_terms(node.child, negated)


def uses_operators(node: object) -> str | None:
    """The first of AND, NOT, NEAR used in a tree, or None (for `ignore`, which allows OR only)."""
    if isinstance(node, And):
        return "AND"
    if isinstance(node, Not):
        return "NOT"
    if isinstance(node, Near):
        return "NEAR"
    if isinstance(node, Scope):
        return uses_operators(node.child)
    if isinstance(node, Or):
        for c in node.children:
            if (op := uses_operators(c)):
                return op
    return None


def positive(node: object) -> bool:
    """True when the query cannot be satisfied without at least one positive occurrence."""
    if isinstance(node, (Term, Entity, Near)):
        return True
    if isinstance(node, Not):
        return False
    if isinstance(node, Scope):
        return positive(node.child)
    if isinstance(node, And):
        return any(positive(c) for c in node.children)
    if isinstance(node, Or):
        return all(positive(c) for c in node.children)
    return False
