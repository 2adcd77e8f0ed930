"""A slow, obviously correct reference evaluator of the language v2, and property tests that
the compiled automaton path gives exactly the same matches, hits and `why` on random rules
and texts (with the proximity merge forced on as well as the small-case pair loop)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.match import load_rules, proximity
from monitor.match import parse as p
from monitor.match.sentences import ABBREVIATIONS, NUMBER_ABBREVIATIONS
from monitor.match.text import case_tokens, tokens
from monitor.models import Article

ev = importlib.import_module("monitor.match.evaluate")   # the package re-exports a function of that name
compile_mod = importlib.import_module("monitor.match.compile")   # likewise
FIELDS = ("title", "summary", "text")
INF = 10 ** 9
BREAKS = "\n\r\u2028\u2029"
CLOSERS = "\"'”’»›)]}」』"
OPENERS = "\"'“‘«‹([{„"


# -- the reference: token lists and loops, no automaton, no shared evaluation code ----------
def ref_occurrences(term, toks, text):
    """(first, last) token indexes where term occurs in one field's token list."""
    out = []
    n = len(term.tokens)
    want = term.tokens[0]
    for i in range(len(toks)):
        tok = toks[i].norm
        if term.prefix and term.open_start:
            ok = want in tok
        elif term.prefix:
            ok = tok.startswith(want)
        elif term.open_start:
            ok = tok.endswith(want)
        else:
            ok = i + n <= len(toks) and all(toks[i + j].norm == term.tokens[j] for j in range(n))
        wild = term.prefix or term.open_start
        if ok and term.case is not None:
            for j, cwant in enumerate(term.case):
                got = case_tokens(text[toks[i + j].start:toks[i + j].end])
                got = got[0] if len(got) == 1 else ""
                if term.prefix and term.open_start:
                    good = cwant in got
                elif wild:
                    good = got.startswith(cwant) if term.prefix else got.endswith(cwant)
                else:
                    good = got == cwant
                if not good:
                    ok = False
        if ok:
            out.append((i, i + (1 if wild else n) - 1))
    return out


def ref_boundaries(text, unit):
    """Character offsets where a sentence / paragraph starts, one character at a time."""
    out = set()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in BREAKS:
            j = i
            while j < len(text) and text[j] in BREAKS:
                j += 1
            out.add(j)
            i = j
            continue
        if unit == "s" and ch in ".!?":
            j = i + 1
            while j < len(text) and text[j] in CLOSERS:
                j += 1
            if j < len(text) and text[j].isspace() and (ch != "." or not ref_abbreviation(text, i)):
                out.add(j)
        i += 1
    return sorted(out)


def ref_abbreviation(text, i):
    start = i
    while start > 0 and not text[start - 1].isspace() and i - start < 24:
        start -= 1
    word = text[start:i]
    while word and word[0] in OPENERS:
        word = word[1:]
    if len(word) == 1 and word.isupper():
        return True
    parts = word.split(".")
    if len(parts) >= 2 and all(len(x) == 1 and x.isalpha() for x in parts):
        return True
    if word.lower() in ABBREVIATIONS:
        return True
    if word.lower() in NUMBER_ABBREVIATIONS:
        k = i + 1
        while k < min(len(text), i + 4) and text[k].isspace():
            k += 1
        return k < min(len(text), i + 4) and text[k].isdigit()
    return False


def gap(x, y):
    return y[0] - x[1] if y[0] > x[1] else x[0] - y[1] if x[0] > y[1] else 0


class Ref:
    def __init__(self, doc, lead_tokens):
        self.text = {f: getattr(doc, f) for f in FIELDS}
        self.toks = {f: tokens(self.text[f]) for f in FIELDS}
        has_text = bool(self.toks["text"])
        self.lead = {"title": INF, "summary": 0 if has_text else lead_tokens, "text": lead_tokens if has_text else 0}
        self.bounds = {(f, u): ref_boundaries(self.text[f], u) for f in FIELDS for u in "sp"}

    def occ(self, term, field, mask, limit=INF):
        found = ref_occurrences(term, self.toks[field], self.text[field])
        return [(a, b) for a, b in found
                if b < limit and not any((field, t) in mask for t in range(a, b + 1))]

    def unit(self, field, unit, o):
        if field == "title":
            return 0
        def of(k):
            start = self.toks[field][k].start
            return sum(1 for b in self.bounds[field, unit] if b <= start)
        return of(o[0]) if of(o[0]) == of(o[1]) else -1

    def side(self, node, field, limit, mask):
        terms = node.children if isinstance(node, p.Or) else [node]
        return [o for t in terms for o in self.occ(t, field, mask, limit)]

    def near_pairs(self, node, fields, mask):
        """(left occurrences, right occurrences) that have a partner, as (field, a, b)."""
        good_l, good_r = set(), set()
        for f, limit in fields:
            for a in self.side(node.left, f, limit, mask):
                for b in self.side(node.right, f, limit, mask):
                    if node.unit:
                        ok = gap(a, b) >= 1 and self.unit(f, node.unit, a) == self.unit(f, node.unit, b) != -1
                    elif node.ordered:
                        ok = 1 <= b[0] - a[1] <= node.distance
                    else:
                        ok = 1 <= gap(a, b) <= node.distance
                    if ok:
                        good_l.add((f, *a))
                        good_r.add((f, *b))
        return good_l, good_r

    def not_near(self, node, fields, mask):
        out = set()
        for f, limit in fields:
            for a in self.side(node.left, f, limit, mask):
                blocked = False
                for b in self.side(node.right, f, limit, mask):
                    if node.unit:
                        blocked |= self.unit(f, node.unit, a) == self.unit(f, node.unit, b) != -1
                    else:
                        blocked |= gap(a, b) <= node.distance
                if not blocked:
                    out.add((f, *a))
        return out

    def scoped(self, fields, name):
        if name == "lead":
            return [(f, min(limit, self.lead[f])) for f, limit in fields]
        return [(f, limit) for f, limit in fields if f == name]

    def true(self, node, fields, mask):
        if isinstance(node, p.Term):
            return any(self.occ(node, f, mask, limit) for f, limit in fields)
        if isinstance(node, p.Or):
            return any(self.true(c, fields, mask) for c in node.children)
        if isinstance(node, p.And):
            return all(self.true(c, fields, mask) for c in node.children)
        if isinstance(node, p.Not):
            return not self.true(node.child, fields, mask)
        if isinstance(node, p.Scope):
            return self.true(node.child, self.scoped(fields, node.field), mask)
        if isinstance(node, p.NotNear):
            return bool(self.not_near(node, fields, mask))
        assert isinstance(node, p.Near)
        return bool(self.near_pairs(node, fields, mask)[0])

    def leaves(self, node, fields, mask, negated=False):
        """Hit occurrences as (field, a, b): positive leaves, and A of A NOT NEAR B."""
        if isinstance(node, p.Term):
            return set() if negated else {(f, *o) for f, limit in fields for o in self.occ(node, f, mask, limit)}
        if isinstance(node, p.Not):
            return self.leaves(node.child, fields, mask, not negated)
        if isinstance(node, p.Scope):
            return self.leaves(node.child, self.scoped(fields, node.field), mask, negated)
        if isinstance(node, p.NotNear):
            return set() if negated else self.not_near(node, fields, mask)
        kids = node.children if isinstance(node, (p.And, p.Or)) else (node.left, node.right)
        return set().union(*(self.leaves(c, fields, mask, negated) for c in kids))

    def decisive(self, node, fields, mask):
        """The occurrences that make node true, or None when it is false."""
        if not self.true(node, fields, mask):
            return None
        if isinstance(node, p.Term):
            return self.leaves(node, fields, mask)
        if isinstance(node, (p.And, p.Or)):
            parts = [self.decisive(c, fields, mask) for c in node.children]
            return set().union(*(d for d in parts if d is not None))
        if isinstance(node, p.Not):
            return set()
        if isinstance(node, p.Scope):
            return self.decisive(node.child, self.scoped(fields, node.field), mask)
        if isinstance(node, p.NotNear):
            return self.not_near(node, fields, mask)
        left, right = self.near_pairs(node, fields, mask)
        return left | right

    def hit_list(self, occs):
        spans = {(FIELDS.index(f), self.toks[f][a].start, self.toks[f][b].end) for f, a, b in occs}
        return [(FIELDS[f], s, e, self.text[FIELDS[f]][s:e]) for f, s, e in sorted(spans)]

    def why(self, rule, mask):
        top = rule.query_ast
        every = [(f, INF) for f in FIELDS]
        words = lambda n: rule.query[n.span[0]:n.span[1]]  # noqa: E731
        out = []
        branches = top.children if isinstance(top, p.Or) and not top.entity else [top]
        for index, branch in enumerate(branches):
            if not self.true(branch, every, mask):
                continue
            for part in branch.children if isinstance(branch, p.And) else [branch]:
                if isinstance(part, p.Near):
                    left, right = self.near_pairs(part, every, mask)
                    if left:
                        out.append((index, words(part), self.hit_list(left | right),
                                    [(words(part.left), self.hit_list(left)), (words(part.right), self.hit_list(right))]))
                    continue
                found = self.decisive(part, every, mask)
                if found:
                    out.append((index, words(part), self.hit_list(found), []))
        return out

    def match(self, rule):
        every = [(f, INF) for f in FIELDS]
        mask = set()
        if rule.ignore_ast is not None:
            for f, a, b in self.leaves(rule.ignore_ast, every, set()):
                mask.update((f, t) for t in range(a, b + 1))
        if not self.true(rule.query_ast, every, mask):
            return None
        found = self.leaves(rule.query_ast, every, mask)
        if len(found) < rule.min_hits:
            return None
        if rule.exclude_ast is not None and self.true(rule.exclude_ast, every, set()):
            return None
        return self.hit_list(found), self.why(rule, mask)


def reference(ruleset, doc, lead_tokens=ev.LEAD_TOKENS):
    ref = Ref(doc, lead_tokens)
    out = []
    for rule in ruleset.rules:
        found = ref.match(rule)
        if found is not None:
            out.append((rule.id, *found))
    return out


def _hits(hits):
    return [(h.field, h.start, h.end, h.text) for h in hits]


def fast(ruleset, doc):
    return [(m.rule, _hits(m.hits), [(w.branch, w.clause, _hits(w.hits), [(s.clause, _hits(s.hits)) for s in w.sides])
                                     for w in m.why])
            for m in ruleset.match(doc)]


# -- strategies ---------------------------------------------------------------------------------
VOCAB = ["Kallas", "kallas", "KALLAS", "Kaja", "EU", "eu", "Estonia", "Estonian", "estonians",
         "Rutte", "NATO", "SAFE", "safe", "Safe", "défense", "Defence", "defense", "Greenland",
         "Grønland", "Straße", "strasse", "Kaja-Kallas", "ReArm", "Europe", "Europe’s", "Łódź", "lodz",
         "Каллас", "Кая", "Κάλλας", "Verteidigungsunion", "Europaarmee", "Mr", "U.S"]
WORDS = ["kallas", "Kallas", "kaja", "eu", "estonia", "rutte", "nato", "safe", "defence", "defense",
         "greenland", "gronland", "strasse", "rearm", "europe", "lodz"]
SEPS = [" ", " ", " ", ", ", ". ", " - ", "\n", " (", ") ", "’s ", "! ", "? ", "\n\n", '." ', ". ", "\r\n"]

text_st = st.lists(st.tuples(st.sampled_from(VOCAB), st.sampled_from(SEPS)), max_size=25).map(
    lambda xs: "".join(w + s for w, s in xs))

word_st = st.sampled_from(WORDS)
leaf_st = st.one_of(
    word_st,
    st.lists(word_st, min_size=2, max_size=3).map(lambda ws: '"' + " ".join(ws) + '"'),
    st.sampled_from(["Est*", "defen*", "kal*", "eur*", "gro*"]),
    st.sampled_from(["*land", "*alla*", "*union", "*fence", "*armee", "*earm*", "*urop*"]),
    st.sampled_from(["{SAFE}", "{Kallas}", "{EU}", '{"Kaja Kallas"}', "{Est*}", "{NATO}", "{*land}",
                     "{*Land}", "{*allas}", "{*ALLA*}"]),
)
near_operand = st.one_of(leaf_st, st.lists(leaf_st, min_size=2, max_size=3).map(
    lambda xs: "(" + " OR ".join(xs) + ")"))
near_op = st.one_of(
    st.integers(1, 4).map(lambda n: f"NEAR/{n}"),
    st.integers(1, 4).map(lambda n: f"ONEAR/{n}"),
    st.sampled_from(["NEAR/s", "NEAR/p", "NOT NEAR/s", "NOT NEAR/p"]),
    st.integers(0, 3).map(lambda n: f"NOT NEAR/{n + 1}"),
)


def _combine(children):
    return st.one_of(
        st.tuples(children, children).map(lambda ab: f"({ab[0]} AND {ab[1]})"),
        st.tuples(children, children).map(lambda ab: f"({ab[0]} {ab[1]})"),
        st.tuples(children, children).map(lambda ab: f"({ab[0]} OR {ab[1]})"),
        st.tuples(children, children).map(lambda ab: f"({ab[0]} AND NOT ({ab[1]}))"),
        st.tuples(st.sampled_from(p.SCOPES), children).map(lambda fc: f"{fc[0]}:({fc[1]})"),
    )


near_st = st.tuples(near_operand, near_op, near_operand).map(lambda t: f"{t[0]} {t[1]} {t[2]}")
query_st = st.recursive(st.one_of(leaf_st, near_st), _combine, max_leaves=5).filter(
    lambda q: p.positive(p.parse(q)))
rule_st = st.fixed_dictionaries({"query": query_st}, optional={
    "ignore": st.lists(leaf_st, min_size=1, max_size=2).map(" OR ".join),
    "exclude": query_st,
    "min_hits": st.integers(1, 3),
})


def _write(tmp: Path, rules: list[dict]) -> Path:
    for i, r in enumerate(rules):
        r["id"] = f"r{i}"
    (tmp / "r.yaml").write_text(yaml.safe_dump({"rules": rules}, allow_unicode=True), encoding="utf-8")
    return tmp


@pytest.mark.parametrize("small, engine", [(proximity.SMALL, "rs"), (0, "rs"), (proximity.SMALL, "py")],
                         ids=["pair-loop-when-small", "merge-always", "pyahocorasick-fallback"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rules=st.lists(rule_st, min_size=1, max_size=4), title=text_st, summary=text_st, text=text_st,
       lead=st.sampled_from([3, 8, 60]))
def test_automaton_agrees_with_reference(tmp_path, monkeypatch, small, engine, rules, title, summary, text, lead):
    monkeypatch.setattr(proximity, "SMALL", small)
    monkeypatch.setattr(compile_mod, "ENGINE", engine)
    monkeypatch.setattr(ev, "LEAD_TOKENS", lead)
    rs = load_rules(_write(tmp_path, rules))
    doc = Article(url="u", feed_url="f", guid="g", title=title, summary=summary, text=text)
    assert fast(rs, doc) == reference(rs, doc, lead)


def test_reference_is_not_vacuous(tmp_path):
    """The property above compares something: on a crafted case both paths fire with hits."""
    rs = load_rules(_write(tmp_path, [{"query": "{Kallas} NEAR/2 (EU OR Est*)", "ignore": '"Siim Kallas"'}]))
    doc = Article(url="u", feed_url="f", guid="g", title="x",
                  text="Siim Kallas met EU envoys; later Kaja Kallas of Estonia spoke.")
    assert fast(rs, doc) == reference(rs, doc)
    assert fast(rs, doc)[0][1] == [("text", 16, 18, "EU"), ("text", 38, 44, "Kallas"), ("text", 48, 55, "Estonia")]
    # the why names the clause and only the mentions within range (EU is 5 tokens from Kallas)
    assert fast(rs, doc)[0][2] == [(0, "{Kallas} NEAR/2 (EU OR Est*)",
                                    [("text", 38, 44, "Kallas"), ("text", 48, 55, "Estonia")],
                                    [("{Kallas}", [("text", 38, 44, "Kallas")]),
                                     ("(EU OR Est*)", [("text", 48, 55, "Estonia")])])]


def test_reference_covers_every_v2_form(tmp_path):
    """Each v2 form fires on a crafted text in both paths (so the property is not vacuous for them)."""
    text = ("Kaja Kallas met Mr. Rutte in the U.S. today. Then the Verteidigungsunion came up!\n"
            "Каллас spoke of Grønland. Κάλλας agreed.")
    queries = ["Kallas ONEAR/3 Rutte", "Kallas NEAR/s Rutte", "Kallas NEAR/p Verteidigungsunion",
               "Kallas NOT NEAR/3 Rutte", "Kallas NOT NEAR/s Rutte", "*union", "*teidigung*",
               "{*land}", "lead:Kaja", "Каллас", "{Kallas} NEAR/s Gronland"]
    rs = load_rules(_write(tmp_path, [{"query": q} for q in queries]))
    doc = Article(url="u", feed_url="f", guid="g", title="x", text=text)
    got = fast(rs, doc)
    assert got == reference(rs, doc)
    assert [r for r, *_ in got] == [f"r{i}" for i in range(len(queries))]


@settings(max_examples=300, deadline=None)
@given(query=query_st)
def test_leaves_lists_the_leaves_walk_terms_yields_in_its_order(query):
    tree = p.parse(query)
    assert p.leaves(tree, []) == [n for n, _ in p.walk_terms(tree)]
    entity = p.parse("@kallas AND (@rutte NEAR/3 nato)")
    assert [type(n).__name__ for n in p.leaves(entity, [])] == ["Entity", "Entity", "Term"]
