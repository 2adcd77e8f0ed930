"""The query tree of the rule language: node records and the walks every stage shares.

Owns the node types (Term, Entity, Not, And, Or, Near, NotNear, Scope) and the pure
questions asked of a tree (its terms, the operators it uses, whether it needs a positive
occurrence). Must not parse or evaluate: parse.py builds trees, evaluate.py runs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as _field  # a node has a member called `field`
from sys import intern

from monitor.match.text import SEP

Span = tuple[int, int]
CASE_MARK = "\x00"    # joins a key and its case tokens into a presearch key (never in a key)


@dataclass(frozen=True, slots=True)
class Term:
    """A word, phrase or wildcard; `case` holds the exact-case tokens of a `{...}` term.

    `prefix` is a trailing star (`defen*`), `open_start` a leading one (`*union`); both
    together match inside a token (`*verteidigung*`).
    """

    tokens: tuple[str, ...]
    prefix: bool = False
    case: tuple[str, ...] | None = None
    source: str = ""
    offset: int = 0
    open_start: bool = False

    def __post_init__(self) -> None:
        # computed once here (every term is indexed): `key`, `pkey` and the hash
        body = SEP.join(self.tokens)
        key = intern(("" if self.open_start else SEP) + body + ("" if self.prefix else SEP))
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "pkey", key if self.case is None else
                           intern(key + CASE_MARK + CASE_MARK.join(self.case)))
        object.__setattr__(self, "_hash", hash((self.tokens, self.prefix, self.case, self.source, self.offset,
                                                self.open_start)))

    # `key`: the automaton key, normalised tokens between separators (a wildcard side stays open).
    # `pkey`: the presearch key, the key plus the exact-case tokens of a `{...}` term (compile.py
    # finds such a key where the plain key occurs with that case).
    key: str = _field(init=False, repr=False, compare=False)
    pkey: str = _field(init=False, repr=False, compare=False)
    _hash: int = _field(init=False, repr=False, compare=False)

    @property
    def span(self) -> Span:
        return (self.offset, self.offset + len(self.source))

    def __hash__(self) -> int:      # computed once: terms key every per-article cache
        return self._hash


@dataclass(frozen=True, slots=True)
class Entity:
    name: str
    offset: int = 0

    @property
    def span(self) -> Span:
        return (self.offset, self.offset + 1 + len(self.name))


@dataclass(frozen=True, slots=True)
class Not:
    child: object
    offset: int = 0
    span: Span = _field(default=(0, 0), compare=False)


@dataclass(frozen=True, slots=True)
class And:
    children: tuple
    span: Span = _field(default=(0, 0), compare=False)


@dataclass(frozen=True, slots=True)
class Or:
    """An OR; `entity` names the @entity this OR of aliases was resolved from (else "")."""

    children: tuple
    span: Span = _field(default=(0, 0), compare=False)
    entity: str = ""


@dataclass(frozen=True, slots=True)
class Near:
    """A NEAR/n (unit ""), NEAR/s or NEAR/p (unit "s"/"p"); ordered for ONEAR/n."""

    left: object
    right: object
    distance: int
    offset: int = 0
    span: Span = _field(default=(0, 0), compare=False)
    unit: str = ""
    ordered: bool = False

    @property
    def operator(self) -> str:
        return ("ONEAR/" if self.ordered else "NEAR/") + (self.unit or str(self.distance))


@dataclass(frozen=True, slots=True)
class NotNear:
    """A NOT NEAR/n (unit ""), NOT NEAR/s or NOT NEAR/p: an occurrence of left with no right in range."""

    left: object
    right: object
    distance: int
    offset: int = 0
    span: Span = _field(default=(0, 0), compare=False)
    unit: str = ""

    @property
    def operator(self) -> str:
        return "NOT NEAR/" + (self.unit or str(self.distance))


@dataclass(frozen=True, slots=True)
class Scope:
    field: str
    child: object
    offset: int = 0
    span: Span = _field(default=(0, 0), compare=False)


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
    elif isinstance(node, NotNear):
        yield from walk_terms(node.left, negated)
        yield from walk_terms(node.right, not negated)   # B of A NOT NEAR B is never a hit
    elif isinstance(node, Scope):
        yield from walk_terms(node.child, negated)


def leaves(node: object, out: list) -> list:
    """Every Term and Entity of the tree appended to `out`, in walk_terms' order (a plain
    recursion, no generator per node: compiling walks every rule's tree)."""
    cls = node.__class__
    if cls is Term or cls is Entity:
        out.append(node)
    elif cls is Or or cls is And:
        for c in node.children:     # type: ignore[attr-defined]
            if c.__class__ is Term:
                out.append(c)
            else:
                leaves(c, out)
    elif cls is Not or cls is Scope:
        leaves(node.child, out)     # type: ignore[attr-defined]
    elif cls is Near or cls is NotNear:
        leaves(node.left, out)      # type: ignore[attr-defined]
        leaves(node.right, out)     # type: ignore[attr-defined]
    else:
        out.extend(n for n, _ in walk_terms(node))     # a subclass: the general walk
    return out


def uses_operators(node: object) -> str | None:
    """The first of AND, NOT, NEAR used in a tree, or None (for `ignore`, which allows OR only)."""
    if isinstance(node, And):
        return "AND"
    if isinstance(node, Not):
        return "NOT"
    if isinstance(node, NotNear):
        return "NOT NEAR"
    if isinstance(node, Near):
        return "ONEAR" if node.ordered else "NEAR"
    if isinstance(node, Scope):
        return uses_operators(node.child)
    if isinstance(node, Or):
        for c in node.children:
            if (op := uses_operators(c)):
                return op
    return None


def positive(node: object) -> bool:
    """True when the query cannot be satisfied without at least one positive occurrence."""
    if isinstance(node, (Term, Entity, Near, NotNear)):
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
