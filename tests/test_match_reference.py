"""A slow, obviously correct reference evaluator, and property tests that the compiled
automaton path gives exactly the same matches and hits on random rules and texts."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.match import load_rules
from monitor.match import parse as p
from monitor.match.text import case_tokens, tokens
from monitor.models import Article

FIELDS = ("title", "summary", "text")


# -- the reference: token lists and loops, no automaton, no shared evaluation code ----------
def ref_occurrences(term, toks, text):
    """(first, last) token indexes where term occurs in one field's token list."""
    out = []
    n = len(term.tokens)
    for i in range(len(toks)):
        if term.prefix:
            ok = toks[i].norm.startswith(term.tokens[0])
        else:
            ok = i + n <= len(toks) and all(toks[i + j].norm == term.tokens[j] for j in range(n))
        if ok and term.case is not None:
            for j, want in enumerate(term.case):
                got = case_tokens(text[toks[i + j].start:toks[i + j].end])
                got = got[0] if len(got) == 1 else ""
                if not (got.startswith(want) if term.prefix else got == want):
                    ok = False
        if ok:
            out.append((i, i + (1 if term.prefix else n) - 1))
    return out


class Ref:
    def __init__(self, doc):
        self.text = {f: getattr(doc, f) for f in FIELDS}
        self.toks = {f: tokens(self.text[f]) for f in FIELDS}

    def occ(self, term, field, mask):
        found = ref_occurrences(term, self.toks[field], self.text[field])
        return [(a, b) for a, b in found if not any((field, t) in mask for t in range(a, b + 1))]

    def true(self, node, fields, mask):
        if isinstance(node, p.Term):
            return any(self.occ(node, f, mask) for f in fields)
        if isinstance(node, p.Or):
            return any(self.true(c, fields, mask) for c in node.children)
        if isinstance(node, p.And):
            return all(self.true(c, fields, mask) for c in node.children)
        if isinstance(node, p.Not):
            return not self.true(node.child, fields, mask)
        if isinstance(node, p.Scope):
            return self.true(node.child, [f for f in fields if f == node.field], mask)
        assert isinstance(node, p.Near)
        lefts = node.left.children if isinstance(node.left, p.Or) else [node.left]
        rights = node.right.children if isinstance(node.right, p.Or) else [node.right]
        for f in fields:
            for lt in lefts:
                for a in self.occ(lt, f, mask):
                    for rt in rights:
                        for b in self.occ(rt, f, mask):
                            gap = b[0] - a[1] if b[0] > a[1] else a[0] - b[1]
                            if 0 < gap <= node.distance:
                                return True
        return False

    def leaves(self, node, fields, negated=False):
        if isinstance(node, p.Term):
            return [] if negated else [(node, fields)]
        if isinstance(node, p.Not):
            return self.leaves(node.child, fields, not negated)
        if isinstance(node, p.Scope):
            return self.leaves(node.child, [f for f in fields if f == node.field], negated)
        kids = node.children if isinstance(node, (p.And, p.Or)) else (node.left, node.right)
        return [x for c in kids for x in self.leaves(c, fields, negated)]

    def hits(self, node, mask):
        spans = set()
        for term, fields in self.leaves(node, list(FIELDS)):
            for f in fields:
                for a, b in self.occ(term, f, mask):
                    s, e = self.toks[f][a].start, self.toks[f][b].end
                    spans.add((FIELDS.index(f), s, e))
        return [(FIELDS[f], s, e, self.text[FIELDS[f]][s:e]) for f, s, e in sorted(spans)]

    def match(self, rule):
        mask = set()
        if rule.ignore_ast is not None:
            for term, fields in self.leaves(rule.ignore_ast, list(FIELDS)):
                for f in fields:
                    for a, b in self.occ(term, f, set()):
                        mask.update((f, t) for t in range(a, b + 1))
        if not self.true(rule.query_ast, list(FIELDS), mask):
            return None
        found = self.hits(rule.query_ast, mask)
        if len(found) < rule.min_hits:
            return None
        if rule.exclude_ast is not None and self.true(rule.exclude_ast, list(FIELDS), set()):
            return None
        return found


def reference(ruleset, doc):
    ref = Ref(doc)
    out = []
    for rule in ruleset.rules:
        found = ref.match(rule)
        if found is not None:
            out.append((rule.id, found))
    return out


def fast(ruleset, doc):
    return [(m.rule, [(h.field, h.start, h.end, h.text) for h in m.hits]) for m in ruleset.match(doc)]


# -- strategies ---------------------------------------------------------------------------------
VOCAB = ["Kallas", "kallas", "KALLAS", "Kaja", "EU", "eu", "Estonia", "Estonian", "estonians",
         "Rutte", "NATO", "SAFE", "safe", "Safe", "défense", "Defence", "defense", "Greenland",
         "Grønland", "Straße", "strasse", "Kaja-Kallas", "ReArm", "Europe", "Europe’s", "Łódź", "lodz"]
WORDS = ["kallas", "Kallas", "kaja", "eu", "estonia", "rutte", "nato", "safe", "defence", "defense",
         "greenland", "gronland", "strasse", "rearm", "europe", "lodz"]
SEPS = [" ", " ", " ", ", ", ". ", " - ", "\n", " (", ") ", "’s "]

text_st = st.lists(st.tuples(st.sampled_from(VOCAB), st.sampled_from(SEPS)), max_size=25).map(
    lambda xs: "".join(w + s for w, s in xs))

word_st = st.sampled_from(WORDS)
leaf_st = st.one_of(
    word_st,
    st.lists(word_st, min_size=2, max_size=3).map(lambda ws: '"' + " ".join(ws) + '"'),
    st.sampled_from(["Est*", "defen*", "kal*", "eur*", "gro*"]),
    st.sampled_from(["{SAFE}", "{Kallas}", "{EU}", '{"Kaja Kallas"}', "{Est*}", "{NATO}"]),
)
near_operand = st.one_of(leaf_st, st.lists(leaf_st, min_size=2, max_size=3).map(
    lambda xs: "(" + " OR ".join(xs) + ")"))


def _combine(children):
    return st.one_of(
        st.tuples(children, children).map(lambda ab: f"({ab[0]} AND {ab[1]})"),
        st.tuples(children, children).map(lambda ab: f"({ab[0]} {ab[1]})"),
        st.tuples(children, children).map(lambda ab: f"({ab[0]} OR {ab[1]})"),
        st.tuples(children, children).map(lambda ab: f"({ab[0]} AND NOT ({ab[1]}))"),
        st.tuples(st.sampled_from(FIELDS), children).map(lambda fc: f"{fc[0]}:({fc[1]})"),
    )


near_st = st.tuples(near_operand, st.integers(1, 4), near_operand).map(lambda t: f"{t[0]} NEAR/{t[1]} {t[2]}")
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


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rules=st.lists(rule_st, min_size=1, max_size=4), title=text_st, summary=text_st, text=text_st)
def test_automaton_agrees_with_reference(tmp_path, rules, title, summary, text):
    rs = load_rules(_write(tmp_path, rules))
    doc = Article(url="u", feed_url="f", guid="g", title=title, summary=summary, text=text)
    assert fast(rs, doc) == reference(rs, doc)


def test_reference_is_not_vacuous(tmp_path):
    """The property above compares something: on a crafted case both paths fire with hits."""
    rs = load_rules(_write(tmp_path, [{"query": "{Kallas} NEAR/2 (EU OR Est*)", "ignore": '"Siim Kallas"'}]))
    doc = Article(url="u", feed_url="f", guid="g", title="x",
                  text="Siim Kallas met EU envoys; later Kaja Kallas of Estonia spoke.")
    assert fast(rs, doc) == reference(rs, doc)
    assert fast(rs, doc)[0][1] == [("text", 16, 18, "EU"), ("text", 38, 44, "Kallas"), ("text", 48, 55, "Estonia")]
