"""The rule index: every leaf term of every rule, and the rules each term can fire (issue 21).

Owns finding, in one article, every occurrence of every term any rule uses (query,
exclude and ignore), and which rules those occurrences make candidates. A term's *key*
is its normalised tokens between separators (nodes.Term.key); a case-sensitive term
(`{Kallas}`) also has its own *presearch key* (Term.pkey), whose occurrences are those of
the plain key that pass the case check, computed once per article for every rule using it.

Every key, whole-word or with a wildcard side (`defen*`, `*union`, `*verteidigung*`), is
found by an Aho-Corasick automaton over the field's joined tokens: ahocorasick_rs (Rust's
aho-corasick crate over the UTF-8 of keys and fields, every overlapping match of a field
returned by one call) when it is
installed, else pyahocorasick (`ENGINE`), with the same matches in the same order. Each
rule is indexed under its anchors (presearch.py); its other required clauses are checked
by presence before it is evaluated.

The index is built incrementally and copied on write: `Index.copy()` is cheap (C-level
dict copies), `add(ref, rule)` / `remove(ref)` change one rule, and `finish()` rebuilds
only the small delta automaton of the keys the base one lacks, only if they changed; a reload that edits one file
therefore touches that file's rules only, and the RuleSet it replaces keeps its own
index intact. Rules are referred to by stable integers (refs) that the caller assigns.
Must not evaluate queries.
"""

from __future__ import annotations

from typing import Any

import ahocorasick

try:                        # Rust's aho-corasick: every match of a field in one call (below)
    import ahocorasick_rs
except ImportError:         # pragma: no cover - the dependency installs everywhere we run
    ahocorasick_rs = None  # type: ignore[assignment]

from monitor.match import parse as p
from monitor.match.presearch import SCOPE_MARK, plan
from monitor.match.rules import Rule


def rule_terms(rule: Rule) -> list[p.Term]:
    found: list = []
    for node in (rule.query_ast, rule.exclude_ast, rule.ignore_ast):
        if node is not None:
            p.leaves(node, found)
    return [t for t in found if isinstance(t, p.Term)]


class Index:
    """What scan() and RuleSet.match need; see the module docstring."""

    def __init__(self) -> None:
        self.keys: dict[str, tuple[int, int, int]] = {}        # key -> (length, first, last token shift)
        self.case: dict[str, tuple[tuple[str, p.Term], ...]] = {}   # plain key -> (pkey, a term) of its case forms
        self.inner: frozenset[str] = frozenset()               # *infix* keys: deduplicated per token
        # plain key -> (single-token forms by case token, the other forms, the first characters
        # of the single forms' case tokens, or None when one is empty): see evaluate._case_forms
        self.case_split: dict[str, tuple[dict[str, str], tuple[tuple[str, p.Term], ...], frozenset[str] | None]] = {}
        self.refs: dict[str, int] = {}                         # key or pkey -> terms using it (for removal)
        self.by_key: dict[str, frozenset[int]] = {}            # pkey -> plans anchored on it
        self.always: frozenset[int] = frozenset()              # plans without anchors
        self.plans: dict[int, Plan] = {}                       # plan id -> (rule, other clauses, anchors, refs)
        self.plan_of: dict[int, tuple[int, Rule]] = {}         # ref -> (its plan id, its rule)
        self.same: dict[tuple[str, str, str, int], tuple[int, ...]] = {}   # semantics(rule) -> plan ids
        self.scoped: dict[str, tuple[tuple[str, int], ...]] = {}   # key -> (scoped key, field index) in plans
        self.scoped_refs: dict[str, int] = {}                  # scoped key -> plans requiring it
        self.automata: tuple[Any, ...] = ()                    # the base automaton, then the delta one
        self.base: frozenset[str] = frozenset()                # keys of the base automaton
        self._delta: frozenset[str] = frozenset()              # keys of the delta automaton
        # by_key entries and `always` while rules are added or removed: sets this index alone holds,
        # frozen back by finish() (one new frozenset per add was quadratic in the rules sharing an
        # anchor: 40,000 rules `nato OR w<i>` compiled in 11.5 s CPU, 10,000 in 0.98 s)
        self._open: dict[str, set[int]] = {}
        self._open_always: set[int] | None = None
        self._open_refs: dict[int, dict[int, None]] = {}     # plan id -> its refs, in order (likewise)

    def copy(self) -> Index:
        new = Index.__new__(Index)
        new.__dict__.update(self.__dict__)
        for name in ("keys", "case", "case_split", "refs", "by_key", "plans", "plan_of", "same", "scoped",
                     "scoped_refs"):
            setattr(new, name, getattr(self, name).copy())
        new._open = {k: set(v) for k, v in self._open.items()}
        new._open_always = None if self._open_always is None else set(self._open_always)
        new._open_refs = {k: dict(v) for k, v in self._open_refs.items()}
        return new

    def _anchored(self, key: str) -> set[int]:
        """The plans anchored on `key`, as a set to change until finish()."""
        plans = self._open.get(key)
        if plans is None:
            plans = self._open[key] = set(self.by_key.get(key, ()))
        return plans

    def _unanchored(self) -> set[int]:
        """`always` as a set to change until finish()."""
        if self._open_always is None:
            self._open_always = set(self.always)
        return self._open_always

    def _refs(self, pid: int) -> dict[int, None]:
        """A plan's refs, in order, to change until finish()."""
        refs = self._open_refs.get(pid)
        if refs is None:
            refs = self._open_refs[pid] = dict.fromkeys(self.plans[pid][3])
        return refs

    # -- keys --------------------------------------------------------------------------
    def _use_case(self, term: p.Term) -> None:
        """Count a case-sensitive term's presearch key (its plain key is counted in add())."""
        key, pkey = term.key, term.pkey
        m = self.refs.get(pkey, 0)
        self.refs[pkey] = m + 1
        if not m:
            self._set_case(key, (*self.case.get(key, ()), (pkey, term)))

    def _set_case(self, key: str, forms: tuple[tuple[str, p.Term], ...]) -> None:
        """A plain key's case forms, and the same split for scan(): forms of one whole token
        by their case token, and the others."""
        self.case[key] = forms
        single = {(t.case or ('',))[0]: pk for pk, t in forms if _one_token(t)}
        firsts = None if "" in single else frozenset(c[0] for c in single)
        self.case_split[key] = (single, tuple((pk, t) for pk, t in forms if not _one_token(t)), firsts)

    def _unuse(self, term: p.Term) -> None:
        key, pkey = term.key, term.pkey
        if pkey != key:
            self.refs[pkey] -= 1
            if not self.refs[pkey]:
                del self.refs[pkey]
                left = tuple(v for v in self.case[key] if v[0] != pkey)
                if left:
                    self._set_case(key, left)
                else:
                    del self.case[key], self.case_split[key]
        self.refs[key] -= 1
        if not self.refs[key]:
            del self.refs[key]
            del self.keys[key]      # the base automaton may still find it: nothing asks for it

    # -- rules -------------------------------------------------------------------------
    def add(self, ref: int, rule: Rule) -> None:
        """Index one rule: into the plan of an earlier rule with the same query, exclude,
        ignore and min_hits (which fires with the same hits and why wherever it does), else
        into a new plan, whose id is this ref, under its anchors."""
        if not rule.enabled:
            return
        refs, keys = self.refs, self.keys
        for term in rule_terms(rule):   # count each key; the automaton's entry for a new one
            key = term.key
            n = refs.get(key, 0)
            refs[key] = n + 1
            if not n:
                shift = 1 if term.open_start else 0
                keys[key] = (len(key), -shift, len(term.tokens) - 1 - shift)
            if term.pkey != key:
                self._use_case(term)
        texts = semantics(rule)
        for pid in self.same.get(texts, ()):
            if same_semantics(self.plans[pid][0], rule):
                self._refs(pid)[ref] = None
                self.plan_of[ref] = (pid, rule)
                return
        anchors, others = plan(rule.query_ast)
        self.plans[ref] = (rule, others, anchors, (ref,))
        self.plan_of[ref] = (ref, rule)
        self.same[texts] = (*self.same.get(texts, ()), ref)
        self._scope_keys(anchors, others, 1)
        if anchors is None:
            self._unanchored().add(ref)
            return
        open_, by_key = self._open, self.by_key
        for key in anchors:             # as _anchored(key).add(ref), but a key's first plan is not opened
            plans = open_.get(key)
            if plans is not None:
                plans.add(ref)
                continue
            was = by_key.get(key)
            if was is None:             # most anchors are one plan's: frozen at once, never opened
                by_key[key] = frozenset((ref,))
            else:
                open_[key] = {*was, ref}

    def remove(self, ref: int) -> None:
        found = self.plan_of.pop(ref, None)
        if found is None:
            return                          # a disabled rule was never indexed
        pid, rule = found
        for term in rule_terms(rule):
            self._unuse(term)
        first, others, anchors, _ = self.plans[pid]
        refs = self._refs(pid)
        if len(refs) > 1:                   # the plan stays for its other rules (`first` may be this one)
            del refs[ref]
            return
        del self.plans[pid], self._open_refs[pid]
        self._scope_keys(anchors, others, -1)
        texts = semantics(first)
        same = tuple(q for q in self.same[texts] if q != pid)
        if same:
            self.same[texts] = same
        else:
            del self.same[texts]
        if anchors is None:
            self._unanchored().discard(pid)
            return
        for key in anchors:
            self._anchored(key).discard(pid)

    def _scope_keys(self, anchors: Any, others: tuple[frozenset[str], ...], step: int) -> None:
        """Count a plan's scoped keys (presearch.py) in or out of `scoped`."""
        for clause in (anchors or (), *others):
            for key in clause:
                if SCOPE_MARK not in key:
                    continue
                n = self.scoped_refs.get(key, 0) + step
                base, field = key.split(SCOPE_MARK, 1)
                forms = tuple(v for v in self.scoped.get(base, ()) if v[0] != key)
                if n:
                    self.scoped_refs[key] = n
                    forms += ((key, FIELD_INDEX.get(field, -1)),)
                else:
                    del self.scoped_refs[key]
                if forms:
                    self.scoped[base] = forms
                else:
                    self.scoped.pop(base, None)

    def present(self, occ: dict[str, list[tuple[int, int, int]]]) -> set[str]:
        """The keys an article has (its occurrences' keys), with the scoped keys any plan
        requires whose key occurs in that field."""
        out = set(occ)
        scoped = self.scoped
        if scoped:
            for base in scoped.keys() & out:
                fields = {o[0] for o in occ[base]}
                for key, f in scoped[base]:
                    if f in fields:
                        out.add(key)
        return out

    # -- automata ----------------------------------------------------------------------
    def finish(self) -> Index:
        """Build what changed: the delta automaton over the keys the base lacks, or the base
        again over every key when the delta has grown past DELTA_SHARE of it (or when the
        keys it still holds for nothing are as many). The anchors changed since are frozen."""
        for key, plans in self._open.items():
            if plans:
                self.by_key[key] = frozenset(plans)
            else:
                self.by_key.pop(key, None)
        self._open = {}
        for pid, refs in self._open_refs.items():
            rule, others, anchors, _ = self.plans[pid]
            self.plans[pid] = (rule, others, anchors, tuple(refs))
        self._open_refs = {}
        if self._open_always is not None:
            self.always, self._open_always = frozenset(self._open_always), None
        keys = self.keys
        delta = frozenset(k for k in keys if k not in self.base) if self.base else frozenset(keys)
        stale = len(self.base) - (len(keys) - len(delta))
        if not self.base or len(delta) + stale > max(DELTA_MIN, DELTA_SHARE * len(self.base)):
            self.base, delta = frozenset(keys), frozenset()
            self.automata = tuple(a for a in (_automaton(keys, self.base),) if a is not None)
        elif delta != self._delta:
            base = self.automata[:1] if self.base else ()
            self.automata = base + tuple(a for a in (_automaton(keys, delta),) if a is not None)
        self._delta = delta
        self.inner = frozenset(k for k in keys if not k.startswith(" ") and not k.endswith(" "))
        return self


def semantics(rule: Rule) -> tuple[str, str, str, int]:
    """What two rules of one plan have in common as written (`same_semantics` also compares
    their trees): the key plans are found by, one dict look-up instead of a scan of every plan
    of the same query (40,000 rules `nato` with differing min_hits were quadratic)."""
    return rule.query, rule.exclude, rule.ignore, rule.min_hits


def same_semantics(a: Rule, b: Rule) -> bool:
    """Whether two rules fire on the same articles with the same hits and why (their
    language and feed filters aside): the same query text (the why quotes it), exclude,
    ignore and min_hits, resolved to equal trees (entities may differ between files)."""
    return (semantics(a) == semantics(b)
            and a.query_ast == b.query_ast and a.exclude_ast == b.exclude_ast and a.ignore_ast == b.ignore_ast)


Plan = tuple[Rule, tuple[frozenset[str], ...], Any, tuple[int, ...]]   # see Index.plans
FIELD_INDEX = {f: i for i, f in enumerate(p.FIELDS)}


def _one_token(term: p.Term) -> bool:
    return not term.prefix and not term.open_start and len(term.tokens) == 1 and len(term.case or ()) == 1


DELTA_MIN = 2_000         # keys the delta automaton may hold before the base is rebuilt...
DELTA_SHARE = 0.05        # ...or this share of the base, whichever is larger


def _automaton(keys: dict[str, tuple[int, int, int]], which: frozenset[str]) -> Any:
    if not which:
        return None
    if ENGINE == "rs" and ahocorasick_rs is not None:
        return RsAutomaton(keys, which)
    auto = ahocorasick.Automaton()
    for key in which:
        auto.add_word(key, (key, *keys[key]))
    auto.make_automaton()
    return auto


ENGINE = "rs"       # "rs": ahocorasick_rs when installed; "py": pyahocorasick (the fallback; tests)


class RsAutomaton:
    """The keys in ahocorasick_rs (Rust's aho-corasick crate, over their UTF-8): every
    overlapping occurrence as (key index, start, end), in end order, from one
    call that builds the whole list in native code; pyahocorasick's iterator returns to
    Python once per match and walks its trie more slowly (about 40 against 75 us a field
    set at 10,000 rules). It does not pickle: it pickles as its keys and is rebuilt (a
    fraction of a second at 100,000 rules)."""

    __slots__ = ("order", "meta", "ac")

    def __init__(self, keys: dict[str, tuple[int, int, int]], which: frozenset[str] | list[str]) -> None:
        self.order = list(which)
        self.meta = [(k, keys[k][1], keys[k][2]) for k in self.order]
        self.ac = _rs_bytes(self.order)

    def __reduce__(self) -> tuple:
        return (_rs_restore, (self.order, self.meta))


def _rs_restore(order: list[str], meta: list[tuple[str, int, int]]) -> RsAutomaton:
    auto = RsAutomaton.__new__(RsAutomaton)
    auto.order, auto.meta = order, meta
    auto.ac = _rs_bytes(order)
    return auto


def _rs_bytes(keys: list[str]) -> Any:
    """The automaton over the keys' UTF-8 (scan() gives it the UTF-8 of each field): the
    same matches as over the strings, since UTF-8 only matches at character boundaries, and
    about a quarter quicker (no character offsets to compute; 62 -> 45 us a field set at
    10,000 rules). Lone surrogates of a text pass through as in text.py.

    A DFA (one table look-up a byte) while the keys' UTF-8 adds up to at most DFA_MAX_BYTES,
    the crate's contiguous NFA beyond (its choice for sets this size): the DFA finds the same
    matches in about two thirds of the time (42 -> 29 us a field set at 10,000 watch-list
    rules, 17,700 keys) but costs about 110 bytes of memory per byte of keys (27 MB there,
    214 MB at 100,000 rules, which the NFA holds in a few MB)."""
    data = [k.encode("utf-8", "surrogatepass") for k in keys]
    if sum(map(len, data)) <= DFA_MAX_BYTES:
        return ahocorasick_rs.BytesAhoCorasick(data, implementation=ahocorasick_rs.Implementation.DFA)
    return ahocorasick_rs.BytesAhoCorasick(data, implementation=ahocorasick_rs.Implementation.ContiguousNFA)


DFA_MAX_BYTES = 512 * 1024     # keys' UTF-8 up to which the automaton is a DFA (about 56 MB at most)


def compile_rules(rules: tuple[Rule, ...]) -> Index:
    """The index of rules, their refs being their positions."""
    index = Index()
    for i, rule in enumerate(rules):
        index.add(i, rule)
    return index.finish()
