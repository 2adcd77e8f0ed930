"""The presearcher (issue 21): rules indexed under the keys they cannot match without give
exactly the matches of evaluating every rule, on large random rule sets."""

from __future__ import annotations

import importlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.match import RuleSet
from monitor.match import parse as p
from monitor.match.presearch import plan, requirements
from monitor.models import Article
from tests.test_match_reference import _write, rule_st, text_st

ev = importlib.import_module("monitor.match.evaluate")


def every_rule(rs: RuleSet, doc) -> list:
    """The matches of evaluating every rule on doc, with no presearch at all."""
    compiled = rs._compiled
    fields = ev.index_fields(doc)
    occ = ev.scan(compiled, fields)
    plain = ev.Context(compiled, occ, fields)
    out = []
    for rule in rs.rules:
        if ev.applies(rule, doc):
            m = ev.evaluate(rule, compiled, occ, fields, plain)
            if m is not None:
                out.append(m)
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rules=st.lists(rule_st, min_size=50, max_size=200), texts=st.lists(text_st, min_size=3, max_size=6))
def test_presearch_gives_the_matches_of_evaluating_every_rule(tmp_path, rules, texts):
    from monitor.match import load_rules
    rs = load_rules(_write(tmp_path, rules))
    for i, text in enumerate(texts):
        doc = Article(url="u", feed_url="f", guid=str(i), title=texts[i - 1], summary=texts[i - 2], text=text)
        assert rs.match(doc) == every_rule(rs, doc)


def _keys(query: str) -> list[set[str]]:
    return [{k.strip() for k in c} for c in requirements(p.parse(query))]


@pytest.mark.parametrize("query, expected", [
    ("kallas", [{"kallas"}]),
    ("kallas AND estonia", [{"kallas"}, {"estonia"}]),
    ("kallas OR rutte", [{"kallas", "rutte"}]),
    ("kallas AND NOT opera", [{"kallas"}]),
    ("(kallas AND eu) OR rutte", [{"kallas", "rutte"}, {"eu", "rutte"}]),   # distributed
    ("(kallas AND eu) OR (rutte AND nato) OR x", [{"kallas", "rutte", "x"}, {"kallas", "nato", "x"},
                                                 {"eu", "rutte", "x"}, {"eu", "nato", "x"}]),
    ("(a AND b) OR (a AND c)", [{"a"}, {"b", "c"}]),             # {a} implies {a, c} and {a, b}
    # beyond MAX_OR_CLAUSES (2 x 2 x 2 x 2 = 16): each branch's rarest clause, as one
    ("(a1 AND bb1) OR (a2 AND bb2) OR (a3 AND bb3) OR (a4 AND bb4)", [{"bb1", "bb2", "bb3", "bb4"}]),
    ('"kaja kallas" NEAR/5 (eu OR nato)', [{"kaja kallas"}, {"eu", "nato"}]),
    ("kallas NOT NEAR/3 siim", [{"kallas"}]),                      # B is not required
    # a field scope's keys must occur in that field (scoped keys); lead: is not marked
    ("title:(kallas OR rutte) AND lead:eu", [{"kallas \x01title", "rutte \x01title"}, {"eu"}]),
    ("text:(title:kallas) OR summary:(rutte AND eu)", [{"kallas \x01title\x01text", "rutte \x01summary"},
                                                       {"kallas \x01title\x01text", "eu \x01summary"}]),
    ("kallas OR (rutte AND NOT x)", [{"kallas", "rutte"}]),
])
def test_requirements(query, expected):
    assert _keys(query) == expected


def test_a_rule_is_anchored_on_its_rarest_required_key():
    anchors, others = plan(p.parse("eu AND defen* AND Verteidigungsunion"))
    assert {k.strip() for k in anchors} == {"verteidigungsunion"}
    assert sorted(k.strip() for c in others for k in c) == ["defen", "eu"]


def test_a_field_scope_requires_its_key_in_that_field(tmp_path):
    """`title:"X" OR ("X" AND y)`: X only in the text, y absent, is no candidate (its scoped
    key is absent); X in the title is; removing the rule drops its scoped keys."""
    from monitor.match import load_rules
    from monitor.match.evaluate import index_fields, scan
    rs = load_rules(_write(tmp_path, [{"query": 'title:kallas OR (kallas AND estonia)'}]))
    ix = rs._compiled
    assert set(ix.scoped) == {" kallas "}
    in_text = Article(url="u", feed_url="f", guid="g", title="x", text="Kallas spoke")
    in_title = Article(url="u", feed_url="f", guid="g", title="Kallas spoke", text="x")
    present = ix.present(scan(ix, index_fields(in_text)))
    assert " kallas \x01title" not in present and " kallas " in present
    assert " kallas \x01title" in ix.present(scan(ix, index_fields(in_title)))
    _, others, anchors, _ = ix.plans[0]
    # (kallas in the title OR estonia) AND (kallas in the title OR kallas): anchored on the first
    assert anchors == {" kallas \x01title", " estonia "} and others == (frozenset({" kallas \x01title", " kallas "}),)
    assert [m.rule for m in rs.match(in_text)] == [] and [m.rule for m in rs.match(in_title)] == ["r0"]
    copy = ix.copy()
    copy.remove(0)
    assert not copy.scoped and not copy.scoped_refs and ix.scoped   # copy on write


def test_common_words_no_longer_make_candidates(tmp_path):
    from monitor.match import load_rules
    rs = load_rules(_write(tmp_path, [{"query": "the AND Kallas"}, {"query": "the"}]))
    compiled = rs._compiled
    assert compiled.by_key[" the "] == {1}              # r0 waits for its rarer key
    doc = Article(url="u", feed_url="f", guid="g", title="x", text="the cat and the dog")
    assert [m.rule for m in rs.match(doc)] == ["r1"]
    assert [m.rule for m in rs.match(Article(url="u", feed_url="f", guid="g", title="Kallas",
                                             text="the cat"))] == ["r0", "r1"]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rules=st.lists(rule_st, min_size=50, max_size=120), texts=st.lists(text_st, min_size=2, max_size=4))
@pytest.mark.parametrize("engine", ["rs", "rs-nfa", "py"], ids=["ahocorasick_rs", "ahocorasick_rs-nfa", "pyahocorasick-fallback"])
def test_large_rule_sets_agree_with_the_reference_evaluator(tmp_path, monkeypatch, engine, rules, texts):
    """Presearch, case forms and the index against the slow reference, on large random sets,
    with either automaton (compile.ENGINE), ahocorasick_rs as a DFA and as an NFA."""
    import importlib

    from monitor.match import load_rules
    compile_module = importlib.import_module("monitor.match.compile")
    monkeypatch.setattr(compile_module, "ENGINE", engine[:2])
    if engine == "rs-nfa":
        monkeypatch.setattr(compile_module, "DFA_MAX_BYTES", 0)
    from tests.test_match_reference import fast, reference
    rs = load_rules(_write(tmp_path, rules))
    for i, text in enumerate(texts):
        doc = Article(url="u", feed_url="f", guid=str(i), title=texts[i - 1], text=text)
        assert fast(rs, doc) == reference(rs, doc)


def test_a_pickled_rule_set_matches_the_same_and_loading_restores_the_collector(tmp_path):
    """RuleSet pickles as one nested pickle (unpickled with the collector paused, as workers
    load it); load_rules leaves the garbage collector as it found it."""
    import gc
    import pickle

    from monitor.match import load_rules
    folder = _write(tmp_path, [{"query": '"kaja kallas" OR ({Kallas} NEAR/3 minister)'}, {"query": "nato AND europ*"}])
    for enabled in (True, False):
        (gc.enable if enabled else gc.disable)()
        try:
            rs = load_rules(folder)
            assert gc.isenabled() is enabled
            back = pickle.loads(pickle.dumps(rs, protocol=pickle.HIGHEST_PROTOCOL))
            assert gc.isenabled() is enabled
        finally:
            gc.enable()
        doc = Article(url="u", feed_url="f", guid="g", title="Kallas, the minister", text="NATO and the European Union")
        assert [m.rule for m in back.match(doc)] == [m.rule for m in rs.match(doc)] == ["r0", "r1"]
        assert back.match(doc) == rs.match(doc)


SHARED = "({Kallas} NEAR/3 (eu OR nato)) OR estonia"


def test_rules_with_the_same_query_share_one_plan_and_keep_their_own_names_and_filters(tmp_path):
    from monitor.match import load_rules
    rs = load_rules(_write(tmp_path, [
        {"query": SHARED, "title": "first", "priority": "high"},
        {"query": SHARED, "languages": ["de"], "tags": ["x"]},
        {"query": SHARED, "channels": [], "title": "third"},
        {"query": SHARED, "exclude": "opera"},               # another exclude: another plan
        {"query": SHARED.replace("NEAR/3", "NEAR/4")},       # another query
        {"query": SHARED, "min_hits": 2},                    # another min_hits
    ]))
    assert sorted(len(refs) for *_, refs in rs._compiled.plans.values()) == [1, 1, 1, 3]
    doc = Article(url="u", feed_url="f", guid="g", title="Kallas and the EU", text="Estonia. Opera.", language="en")
    got = rs.match(doc)
    assert [m.rule for m in got] == ["r0", "r2", "r4", "r5"]
    assert [m.title for m in got[:2]] == ["first", "third"] and got[0].priority == "high"
    assert got == every_rule(rs, doc)
    assert got[0].hits == got[1].hits and got[0].why == got[1].why


def test_removing_the_rule_a_shared_plan_was_made_from_keeps_the_others(tmp_path):
    from monitor.match import RuleWatcher
    from tests.test_match_incremental import _write as write
    write(tmp_path / "a.yaml", {"rules": [{"id": "a", "query": SHARED, "languages": ["de"]}]})
    write(tmp_path / "b.yaml", {"rules": [{"id": "b", "query": SHARED}, {"id": "c", "query": SHARED}]})
    watcher = RuleWatcher(tmp_path)
    doc = Article(url="u", feed_url="f", guid="g", title="Kallas, NATO", text="", language="de")
    assert [m.rule for m in watcher.current.match(doc)] == ["a", "b", "c"]
    write(tmp_path / "a.yaml", {"rules": [{"id": "a", "query": "rutte"}]})
    assert watcher.refresh()
    got = watcher.current.match(doc)
    assert [m.rule for m in got] == ["b", "c"] and got == every_rule(watcher.current, doc)
    write(tmp_path / "b.yaml", {"rules": [{"id": "c", "query": SHARED, "languages": ["fr"]}]})
    assert watcher.refresh()
    assert watcher.current.match(doc) == [] and len(watcher.current._compiled.plans) == 2


def test_matches_are_built_as_their_dataclasses_would_build_them(tmp_path):
    """evaluate.record sets a Hit's, Why's or Match's fields at once: the records must equal,
    and hash as, the ones their own constructors make from the same fields."""
    import dataclasses

    from monitor.match import load_rules
    from monitor.models import Hit, Match, Why
    for cls in (Hit, Why, Match):
        assert not hasattr(cls, "__post_init__") and "__slots__" not in vars(cls)
    rs = load_rules(_write(tmp_path, [{"query": SHARED}, {"query": "estonia NOT NEAR/2 opera", "title": "t"}]))
    doc = Article(url="u", feed_url="f", guid="g", title="Kallas and the EU", text="Estonia is far from the opera.")
    got = rs.match(doc)
    assert len(got) == 2

    def again(x):
        if isinstance(x, tuple):
            return tuple(again(y) for y in x)
        if dataclasses.is_dataclass(x):
            return type(x)(**{f.name: again(getattr(x, f.name)) for f in dataclasses.fields(x)})
        return x
    for m in got:
        assert m == again(m) and hash(m) == hash(again(m)) and repr(m) == repr(again(m))
    assert any(w.sides for m in got for w in m.why)      # a Why with sides was built too


def test_case_forms_of_common_words_agree_with_the_reference(tmp_path):
    """The case check passes over an occurrence by its first character (evaluate._case_forms)
    only when that character is ASCII and starts none of the key's forms: lower-case common
    words that are surnames, forms that differ only after the first letter, accented and
    non-ASCII first letters, a form starting with a digit, and fields whose folding changes
    their length (ß, ½: no first-letter test there) give the reference's matches."""
    from monitor.match import load_rules
    from tests.test_match_reference import fast, reference
    rules = [{"query": "{Will}"}, {"query": "{WILL} OR {New}"}, {"query": "{Ángel} AND said"},
             {"query": "{eBay}"}, {"query": "{Straße}"}, {"query": "{3M} OR {Émile}"},
             {"query": "{Will} NEAR/5 said"}]
    rs = load_rules(_write(tmp_path, rules))
    texts = ["will you say it, Will said; WILL wILL will",
             "the new New york: new, NEW, nEw", "Angel ángel Ángel angel said",
             "ebay Ebay eBay EBAY", "strasse Straße STRASSE straße ½ Will will",
             "3m 3M émile Emile Émile", "Éwill will", ""]
    fired = set()
    for i, text in enumerate(texts):
        doc = Article(url="u", feed_url="f", guid=str(i), title=texts[i - 1], text=text)
        got = fast(rs, doc)
        assert got == reference(rs, doc)
        fired.update(m.rule for m in rs.match(doc))
    assert fired == {f"r{i}" for i in range(len(rules))}     # not vacuous: every rule fired
    lower = Article(url="u", feed_url="f", guid="x", title="", text="you will see what you can do")
    assert rs.match(lower) == []


@settings(max_examples=60, deadline=None)
@given(keys=st.lists(st.text(alphabet=" abcé\u0130", min_size=1, max_size=5), min_size=1, max_size=40, unique=True),
       texts=st.lists(st.text(alphabet=" abcé\u0130", max_size=60), min_size=1, max_size=4))
def test_the_dfa_and_the_nfa_find_the_same_matches_in_the_same_order(keys, texts):
    """compile._rs_bytes builds a DFA for small key sets and the contiguous NFA beyond
    DFA_MAX_BYTES; scan() relies on the order of the overlapping matches (by end, then the
    automaton's order), so both must report the very same list."""
    import ahocorasick_rs

    from monitor.match import compile as c
    data = [k.encode() for k in keys]
    dfa = c._rs_bytes(keys)
    nfa = ahocorasick_rs.BytesAhoCorasick(data, implementation=ahocorasick_rs.Implementation.ContiguousNFA)
    for text in texts:
        hay = text.encode()
        assert dfa.find_matches_as_indexes(hay, True) == nfa.find_matches_as_indexes(hay, True)


def test_past_its_byte_budget_the_automaton_finds_the_same_matches(monkeypatch):
    """Past DFA_MAX_BYTES of keys the automaton is the NFA (a DFA costs about 110 bytes of
    memory per byte of keys): the same matches either way."""
    from monitor.match import compile as c
    keys = [f" k{i} " for i in range(200)]
    hay = " ".join(f"k{i}" for i in range(0, 400, 3)).join("  ").encode()
    small = c._rs_bytes(keys).find_matches_as_indexes(hay, True)
    monkeypatch.setattr(c, "DFA_MAX_BYTES", 10)
    assert c._rs_bytes(keys).find_matches_as_indexes(hay, True) == small
    assert len(small) == 67
