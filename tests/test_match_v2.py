"""The language v2, form by form (table-driven): ordered, sentence and paragraph proximity,
NOT NEAR, leading wildcards, lead:, transliterated Cyrillic and Greek, `why`, warnings,
and matching cost bounded on a hostile article."""

from __future__ import annotations

import importlib
import time
from functools import partial
from pathlib import Path

import pytest
import yaml

from monitor.match import RuleSet, load_rules
from monitor.models import Article

ev = importlib.import_module("monitor.match.evaluate")

TEXT = ("Kaja Kallas met Mr. Rutte in the U.S. on Monday. The EU's defence ministers "
        "discussed the Verteidigungsunion and a Europaarmee! Did NATO agree? Dr. Smith said so.\n"
        "Greenland came up later. Siim Kallas was not there.\n\n"
        "Каллас говорила о Гренландии. Η Κάλλας μίλησε για τη Γροιλανδία.")


def ruleset(tmp: Path, rules: list[dict], entities: dict | None = None) -> RuleSet:
    doc: dict = {"rules": rules}
    if entities:
        doc["entities"] = entities
    (tmp / "r.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return load_rules(tmp)


def doc(text: str = TEXT, title: str = "Defence news", summary: str = "") -> Article:
    return Article(url="u", feed_url="f", guid="g", title=title, summary=summary, text=text)


def fires(tmp: Path, query: str, text: str = TEXT, title: str = "Defence news", summary: str = "", **keys) -> bool:
    rs = ruleset(tmp, [{"id": "r", "query": query, **keys}])
    return bool(rs.match(doc(text, title, summary)))


@pytest.mark.parametrize("query, expected", [
    # ONEAR/n: in order, at most n apart
    ("Kallas ONEAR/3 Rutte", True), ("Rutte ONEAR/3 Kallas", False), ("Kallas ONEAR/2 Rutte", False),
    ('"Kaja Kallas" ONEAR/3 (Rutte OR Stoltenberg)', True), ("Kaja ONEAR/1 Kallas", True),
    # NEAR/s: same sentence (Mr. and U.S. do not end it; ! and ? do)
    ("Kallas NEAR/s Monday", True), ("Kallas NEAR/s EU", False), ("EU NEAR/s Europaarmee", True),
    ("Europaarmee NEAR/s NATO", False), ("NATO NEAR/s Smith", False), ("Rutte NEAR/s Kallas", True),
    ("Kallas NEAR/s Kallas", False),                                  # an occurrence is not near itself
    # NEAR/p: same paragraph (a line break ends it)
    ("Kallas NEAR/p Smith", True), ("Kaja NEAR/p Greenland", False), ("Greenland NEAR/p Siim", True),
    # NOT NEAR: an occurrence of A with no B in range
    ("Rutte NOT NEAR/3 Kallas", False), ("Rutte NOT NEAR/1 Kallas", True),
    ("Greenland NOT NEAR/s Kallas", True), ("Rutte NOT NEAR/s Kallas", False),
    ("Smith NOT NEAR/p Kallas", False), ("Greenland NOT NEAR/p (Rutte OR Europaarmee)", True),
    ("Kallas NOT NEAR/1 Siim", True),                                 # Kaja's Kallas is far from Siim
    ('{Kallas} NOT NEAR/1 ("Siim Kallas" OR Kaja OR говорила OR Η)', False),  # overlap counts as in range
    # leading wildcards: compounds
    ("*union", True), ("*armee", True), ("*teidigung*", True), ("*fence", True), ("*verteidigung", False),
    ("{*union}", True), ("{*Union}", False), ("*union NEAR/3 *armee", True), ("title:*fence", True),
    # lead: the title and the first 60 tokens of the text
    ("lead:Kallas", True), ("lead:Siim", True), ("lead:news", True), ("lead:(Smith OR Rutte)", True),
    # Cyrillic and Greek letters fold to Latin by the contract's schemes
    ("Kallas NEAR/s Grenlandii", True), ("Grenlandii", True), ("Groilandia", True), ("{Kallas} NEAR/2 milise", True),
    ('"Kallas govorila"', True), ("Kalas", False),
])
def test_v2_forms(tmp_path, query, expected):
    assert fires(tmp_path, query) is expected


def test_lead_is_60_tokens_of_text_or_of_summary_when_text_is_empty(tmp_path):
    words = " ".join(f"w{i}" for i in range(70))
    assert fires(tmp_path, "lead:w59", text=words)
    assert not fires(tmp_path, "lead:w60", text=words)
    assert not fires(tmp_path, 'lead:"w59 w60"', text=words)          # a phrase must lie wholly inside
    assert fires(tmp_path, "lead:w10", text="", summary=words)
    assert not fires(tmp_path, "lead:w10", text="body", summary=words)   # the text has tokens: its lead
    assert fires(tmp_path, "lead:Kallas", text=words, title="Kallas in Tallinn")


@pytest.mark.parametrize("text, expected", [
    ("Kallas said. Rutte left.", False), ('Kallas said "no." Rutte left.', False),
    ("Kallas (in Tallinn.) Rutte", False), ("Kallas met J. Rutte", True), ("Kallas e.g. Rutte", True),
    ("Kallas met No. 10 Rutte", True), ("Kallas said no. Rutte left", False),
    ("Kallas said!Rutte", True),                        # a mark must be followed by whitespace
    ("Kallas\u2028Rutte", False), ("Kallas\r\nRutte", False), ("Kallas 3.5 Rutte", True),
])
def test_sentence_boundaries(tmp_path, text, expected):
    assert fires(tmp_path, "Kallas NEAR/s Rutte", text=text) is expected


def test_title_is_one_sentence_whatever_its_punctuation(tmp_path):
    assert fires(tmp_path, "title:(Kallas NEAR/s Rutte)", title="Kallas. Rutte! Who?", text="x")


def test_why_names_the_deciding_clause_with_only_its_decisive_hits(tmp_path):
    ents = {"nato-words": ["NATO", "alliance", '"defence ministers"']}
    rs = ruleset(tmp_path, [{"id": "r", "query": '@kallas OR ({Rutte} NEAR/5 @nato-words) OR Stoltenberg'}],
                 {"kallas": ['"Kaja Kallas"'], **ents})
    text = "NATO met. " + "filler " * 30 + "Mark Rutte spoke to the alliance. Later NATO again."
    [m] = rs.match(doc(text))
    assert [w.clause for w in m.why] == ["({Rutte} NEAR/5 @nato-words)"]
    [w] = m.why
    assert [h.text for h in w.hits] == ["Rutte", "alliance"]            # not the far NATO mentions
    assert [(s.clause, [h.text for h in s.hits]) for s in w.sides] == [("{Rutte}", ["Rutte"]),
                                                                         ("@nato-words", ["alliance"])]
    assert {h.text for h in m.hits} == {"NATO", "Rutte", "alliance"}    # every hit still counts
    assert m.decisive_hits() <= set(m.hits)


def test_why_lists_each_satisfied_branch_and_conjunct(tmp_path):
    rs = ruleset(tmp_path, [{"id": "r", "query": "(Kallas AND Greenland AND NOT opera) OR *union OR Macron"}])
    [m] = rs.match(doc())
    assert [w.clause for w in m.why] == ["Kallas", "Greenland", "*union"]
    assert [h.text for h in m.why[0].hits] == ["Kallas", "Kallas", "Каллас", "Κάλλας"]


def test_why_of_an_entity_query_quotes_the_reference(tmp_path):
    # Каллас folds to kallas, so the alias also finds the Latin spelling (and Siim's)
    rs = ruleset(tmp_path, [{"id": "r", "query": "@kallas"}], {"kallas": ['"Kaja Kallas"', "Каллас"]})
    [m] = rs.match(doc())
    assert [(w.clause, [h.text for h in w.hits]) for w in m.why] == [("@kallas", ["Kaja Kallas", "Kallas", "Kallas", "Каллас", "Κάλλας"])]


def test_lowercase_operators_between_words_warn_but_load(tmp_path):
    rs = ruleset(tmp_path, [{"id": "r", "query": "Kallas or Rutte"}, {"id": "s", "query": '"rock and roll"'},
                            {"id": "t", "query": "Kallas near/5 EU AND NOT opera"}, {"id": "u", "query": "or Kallas"}])
    assert [r.id for r in rs.rules] == ["r", "s", "t", "u"]
    assert len(rs.warnings) == 2, rs.warnings
    assert rs.warnings[0].startswith(f"{tmp_path / 'r.yaml'}:3:")
    assert "warning: rule 'r' query: lowercase 'or'" in rs.warnings[0] and "write OR" in rs.warnings[0]
    assert "lowercase 'near/5'" in rs.warnings[1]


def test_a_hostile_article_costs_linear_time_and_keeps_verdict_and_min_hits(tmp_path):
    """Issue 15: one article repeating "NATO" and "more European" (quadratic with pairs)."""
    rs = ruleset(tmp_path, [{"id": "near", "query": 'NATO NEAR/3 "more European"', "min_hits": 40000},
                            {"id": "far", "query": 'NATO NOT NEAR/2 "more European"'},
                            {"id": "s", "query": 'NATO NEAR/s "more European"'},
                            {"id": "many", "query": "NATO", "min_hits": 20000},
                            {"id": "too-many", "query": "NATO", "min_hits": 20001}])
    text = "NATO wants more European defence. " * 20000
    start = time.process_time()
    got = {m.rule: m for m in rs.match(doc(text))}
    spent = time.process_time() - start
    assert sorted(got) == ["many", "near", "s"]
    assert got["near"].hit_count == 40000 and len(got["near"].hits) <= 2 * ev.MAX_HITS
    assert len(got["many"].hits) == ev.MAX_HITS
    # a generous bound that the pairwise loop (4e8 pairs per rule) could never meet
    assert spent < 60, spent


def test_proximity_never_compares_all_pairs(tmp_path):
    """NATO 60,000 times, then "more European" 60,000 times, never within range: the pairwise
    check would compare 3.6e9 pairs (about six minutes); the merge takes well under a second."""
    rs = ruleset(tmp_path, [{"id": "near", "query": 'NATO NEAR/5 "more European"'},
                            {"id": "ordered", "query": '"more European" ONEAR/5 NATO'},
                            {"id": "not-near", "query": 'NATO NOT NEAR/5 "more European"', "min_hits": 59999}])
    text = "NATO. " * 60000 + "Then the talks turned elsewhere. " + "more European. " * 60000
    start = time.process_time()
    got = [m.rule for m in rs.match(doc(text))]
    assert time.process_time() - start < 60
    assert got == ["not-near"]


def test_paragraph_starts_are_where_each_run_of_line_breaks_ends():
    """The contract's definition, as one regex, against the line-length fast path."""
    import re

    from hypothesis import given
    from hypothesis import strategies as st

    from monitor.match.sentences import paragraph_starts

    @given(st.text(alphabet="ab .\n\r\u2028\u2029", max_size=40) | st.text(alphabet="ab\n", max_size=40))
    def check(text):
        assert paragraph_starts(text) == [m.end() for m in re.finditer("[\n\r\u2028\u2029]+", text)]
    check()


def test_sentence_starts_are_the_marks_regex_with_its_checks():
    """The find-per-mark scan with its inline common case, against the contract's regex and
    `_ends_sentence` for every mark (abbreviations, initials, dotted words, numbers, quotes)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from monitor.match import sentences as s

    def spec(text: str) -> list[int]:
        ends = [m.end() for m in s._MARK.finditer(text) if s._ends_sentence(text, m.start())]
        return sorted(set(ends).union(s.paragraph_starts(text)))

    words = st.sampled_from(["mr", "Mr", "Dr", "No", "no", "p", "A", "a", "U.S", "e.g", "z.B", "word", "Word",
                             "(word", "„Wort", "inc", "ÉTÉ", "été", "x1", "3", "Kallas", "«Rutte", "x" * 30])
    marks = st.sampled_from([".", "!", "?", ".”", "?’", ".)", "...", ". ", "! ", ".\n", ". 3", "", " ", "\n\n",
                             "\u2028", "\t", "\u00a0", "."])
    pieces = st.lists(st.one_of(words, marks), max_size=30).map("".join)

    @settings(max_examples=400, deadline=None)
    @given(pieces | st.text(alphabet="aB. !?”)\n\u00a0", max_size=40))
    def check(text):
        assert s.sentence_starts(text) == spec(text)
    check()
    long = TEXT + Path(__file__).read_text(encoding="utf-8")
    assert s.sentence_starts(long) == spec(long)


def test_a_unit_break_between_two_offsets_is_a_boundary_of_the_whole_text():
    """sentence_break / paragraph_break (the text between two offsets only) against
    sentence_starts / paragraph_starts: a unit starts at s with lo < s <= hi."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from monitor.match import sentences as s

    words = st.sampled_from(["mr", "Mr", "No", "p", "A", "U.S", "e.g", "word", "(word", "ÉTÉ", "3", "Kallas"])
    marks = st.sampled_from([".", "!", "?", ".”", ".)", "...", ". ", "! ", ".\n", ". 3", " ", "\n\n", "\r\n",
                             "\u2028", "\t", ")) ", "\n"])
    pieces = st.lists(st.one_of(words, marks), max_size=25).map("".join)

    @settings(max_examples=300, deadline=None)
    @given(pieces, st.data())
    def check(text, data):
        lo = data.draw(st.integers(0, len(text)))
        hi = data.draw(st.integers(lo, len(text) + 1))
        assert s.sentence_break(text, lo, hi) == any(lo < x <= hi for x in s.sentence_starts(text))
        assert s.paragraph_break(text, lo, hi) == any(lo < x <= hi for x in s.paragraph_starts(text))
    check()


def test_the_units_around_an_offset_are_those_of_the_whole_text():
    """starts_in (the starts in a window, from a slice around it) and unit_around (the unit
    holding an offset, read outwards in growing windows) against sentence_starts /
    paragraph_starts of the whole text, with windows far smaller than the default."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from monitor.match import sentences as s

    words = st.sampled_from(["mr", "Mr", "No", "p", "A", "U.S", "e.g", "word", "(word", "ÉTÉ", "3", "Kallas",
                             "approximately", "Dr"])
    marks = st.sampled_from([".", "!", "?", ".”", ".)", "...", ". ", "! ", ".\n", ". 3", " ", "\n\n", "\r\n",
                             "\u2028", "\t", ")) ", "\n", "”)) ", ".”)”) "])
    pieces = st.lists(st.one_of(words, marks), max_size=40).map("".join)

    @settings(max_examples=400, deadline=None)
    @given(pieces, st.sampled_from(["s", "p"]), st.data())
    def check(text, unit, data):
        every = (s.sentence_starts if unit == "s" else s.paragraph_starts)(text)
        lo = data.draw(st.integers(0, len(text)))
        hi = data.draw(st.integers(lo, len(text) + 1))
        assert s.starts_in(text, lo, hi, unit) == [x for x in every if lo < x <= hi]
        at = data.draw(st.integers(0, len(text)))
        before = max([x for x in every if x <= at], default=0)
        after = min([x for x in every if x > at], default=len(text) + 1)
        assert s.unit_around(text, at, unit) == (before, after)
    old = s._WINDOW
    try:
        for window in (1, 3, old):
            s._WINDOW = window
            check()
    finally:
        s._WINDOW = old
    long = TEXT * 3
    for at in range(0, len(long), 97):
        every = s.sentence_starts(long)
        assert s.unit_around(long, at) == (max([x for x in every if x <= at], default=0),
                                           min([x for x in every if x > at], default=len(long) + 1))


def test_sentence_proximity_by_unit_breaks_is_the_bounds_one():
    """NEAR/s|p and NOT NEAR/s|p read from the text between occurrences (FieldIndex.unit_break,
    proximity._same_unit with FieldIndex.unit_range, _other_units_lazy) against the unit bounds of the whole field,
    on random occurrences of random texts, with the lazy reading's budget spent or not."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from monitor.match import proximity as px
    from monitor.match import text as tx

    words = st.sampled_from(["Mr.", "No.", "A.", "word", "Kallas", "x", "3", "(word)", "U.S."])
    seps = st.sampled_from([" ", ". ", "! ", "? ", ".\n", "\n\n", ", ", ".” ", " "])
    texts = st.lists(st.tuples(words, seps), min_size=1, max_size=30).map(lambda ps: "".join(a + b for a, b in ps))

    def occs(n):
        return st.lists(st.tuples(st.just(2), st.integers(0, n - 1), st.integers(0, 2)), max_size=8).map(
            lambda os: sorted({(f, a, min(a + w, n - 1)) for f, a, w in os}))

    @settings(max_examples=300, deadline=None)
    @given(texts, st.sampled_from(["s", "p"]), st.booleans(), st.data())
    def check(text, unit, spent, data):
        n = len(tx.FieldIndex(text))
        xs, ys = data.draw(occs(n)), data.draw(occs(n))
        lazy = tx.FieldIndex(text)
        if spent:
            lazy._lazy = len(text)          # from the bounds at once
        bounds = tx.FieldIndex(text).unit_bounds(unit)
        brk = lambda a, b: lazy.unit_break(unit, a, b)  # noqa: E731
        for a in range(n):
            for b in range(a, n):
                assert brk(a, b) == (px.bisect_right(bounds, a) != px.bisect_right(bounds, b))
        lazy = tx.FieldIndex(text)          # a fresh budget for the proximity itself
        if spent:
            lazy._lazy = len(text)
        for k in range(n):                  # the unit's tokens: those with no break between
            first, last = lazy.unit_range(unit, k)
            assert [j for j in range(n) if not brk(min(j, k), max(j, k))] == list(range(first, last + 1))
        lazy = tx.FieldIndex(text)
        if spent:
            lazy._lazy = len(text)

        def unit_no(o):
            return px._unit(bounds, o)

        def paired(a, b):                   # same unit, neither straddling, no overlap
            return unit_no(a) == unit_no(b) != -1 and (a[2] < b[1] or b[2] < a[1])
        want = ([x for x in xs if any(paired(x, y) for y in ys)], [y for y in ys if any(paired(x, y) for x in xs)])
        assert px._same_unit(xs, ys, partial(lazy.unit_range, unit)) == want
        units = {px._unit(bounds, y) for y in ys} - {-1}
        assert px._other_units_lazy(xs, ys, brk) == [x for x in xs if px._unit(bounds, x) not in units]
    check()
