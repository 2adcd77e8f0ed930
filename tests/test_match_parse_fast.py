"""The parser's fast path (parse._fast_parse) against the full parser (parse.parse_full).

parse() tries the fast path first and hands anything it does not build to the full
parser, which owns every error message. What must hold: for every query the two give the
same outcome, the same tree with the same spans and offsets (compared by repr, which shows
the spans that node equality leaves out) or the same error with the same offset; and the
fast path really builds the queries watch lists are made of (else the test is vacuous).
"""

from __future__ import annotations

import pytest

from monitor.match import parse as p

WATCH_LIST = [
    '"Anna Müller" OR ({Müller} NEAR/3 (minister OR president OR chancellor OR said))',
    "@c1-shanghai NEAR/s (flood* OR protest* OR election* OR mayor OR police)",
    '{Schmidt} AND (@country176 OR "Liudvika")',
    "lead:@country107 AND (sanction* OR tariff* OR export* OR embassy OR ambassador)",
    '"Canillo" NOT NEAR/3 (street OR road OR avenue OR hotel OR station)',
    '"University of Beijing" OR "Beijing" ONEAR/2 (university OR bank OR airport)',
    'title:"Guangzhou" OR ("Guangzhou" AND @country162)',
    "obituary OR funeral OR football",
    "kallas NOT estonia", "a b c", "NOT NOT a b", "title:(x OR y) AND NOT z",
    "(a AND b)", "(a NEAR/2 b)", "(a NOT NEAR/p b) c", "(NOT a) b", "(title:a) b", "((a))",
    "*union OR *verteidigung* OR defen*", '{"Kaja Kallas"} OR {NATO}', "a\tAND\nb", "a\u00a0OR\u2003b",
    "summary:{EU} text:eur*", "a ONEAR/1 b OR c NEAR/p d",
]

ODD = [
    "", "   ", "a OR", "OR a", "a AND", "AND", "NOT", "a NOT", "()", "(a", "a)", "a ) b", "(a OR (b)",
    "foo:bar", "title:", "title: x", "title:NOT x", "title:title:x", "a:b:c", "NEAR/3 a", "a NEAR/3",
    "a NEAR b", "a NEAR/0 b", "a NEAR/x b", "a NEAR/S b", "a ONEAR/s b", "a NOT ONEAR/2 b",
    "NOT a NOT NEAR/2 b", "(a AND b) NEAR/2 c", "a NEAR/2 (b AND c)", "a NEAR/2 NOT b",
    '"a', '""', '" "', "{a", "{}", '{"a}', '{"a"', "@", "@Bad", "@a.b", "-x", "a*b", "ab*", "*ab",
    "a }", "}", "{a}}", "(@foo)", "(@foo OR x)", "@foo NEAR/2 x", "((((a))))", "a NOT NEAR/2 NOT b",
    "NOT (a) NEAR/2 b", "lead:(a NEAR/2 b)", "and", "a and b", "a near/3 b", "x Or y", "ü", "?", "*",
    "(" * 49 + "a" + ")" * 49, "(" * 51 + "a" + ")" * 51, "NOT " * 60 + "a b", "(" * 30 + "NOT " * 30 + "a",
    "x NEAR/2 y NEAR/3 z", "a\x1cb", "a\x85b", "a\u2028OR\u2029b", "a\x00b",
]


def outcome(parse, query: str) -> tuple:
    try:
        return ("tree", repr(parse(query)))
    except p.QuerySyntaxError as exc:
        return ("error", exc.message, exc.offset)
    except Exception as exc:  # noqa: BLE001 - the two must fail alike, whatever the failure
        return ("crash", type(exc).__name__, str(exc))


@pytest.mark.parametrize("query", WATCH_LIST + ODD)
def test_fast_path_agrees_with_the_full_parser(query):
    assert outcome(p.parse, query) == outcome(p.parse_full, query)


@pytest.mark.parametrize("query", WATCH_LIST)
def test_fast_path_builds_the_watch_list_forms(query):
    # the fast path itself, not its fallback: a query it gave up on would raise here
    assert repr(p._fast_parse(query)) == repr(p.parse_full(query))


def test_fast_path_gives_up_where_the_full_parser_refuses():
    for query in ODD:
        if outcome(p.parse_full, query)[0] != "tree":
            with pytest.raises((p._GiveUp, p.QuerySyntaxError)):
                p._fast_parse(query)


def test_leaves_are_shared_within_a_load_and_forgotten_after():
    a, b = p.parse("x OR minister"), p.parse("y OR minister")
    assert a.children[1] is b.children[1]            # the same immutable leaf at the same offset
    p.forget_terms()
    assert p._term.cache_info().currsize == 0
    assert p.parse("y OR minister").children[1] == b.children[1]


def test_fast_path_agrees_on_random_queries():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    lexeme = st.one_of(
        st.sampled_from(["a", "Kallas", "eu*", "*union", "*alla*", "x*y", "-x", "ü", "@ent", "@Bad", "@",
                         '"a b"', '"a', '""', "{Kallas}", '{"a b"}', "{a", "{}", "}", "(", ")", "((", "))",
                         "AND", "OR", "NOT", "and", "or", "NEAR/2", "NEAR/s", "NEAR/p", "NEAR", "NEAR/0",
                         "NEAR/S", "ONEAR/3", "ONEAR/s", "NEAR/x", "title:", "lead:", "text:", "foo:",
                         "summary:", ":", "*", "?"]),
        st.text(alphabet='ab ()"{}:*@/-NOTEARDO\t', min_size=1, max_size=6),
    )
    sep = st.sampled_from([" ", " ", " ", "", "\t", "\u00a0", "\n"])
    queries = st.lists(st.tuples(lexeme, sep), max_size=14).map(lambda xs: "".join(a + b for a, b in xs))

    @settings(max_examples=1500, deadline=None)
    @given(query=queries)
    def check(query):
        assert outcome(p.parse, query) == outcome(p.parse_full, query)

    check()


@pytest.mark.parametrize("query", WATCH_LIST + ODD)
def test_no_query_crashes_the_parser(query):
    # a query is a tree or a QuerySyntaxError with its offset, never an AssertionError from
    # the lexer ("a }") or a TypeError from a group around an entity ("(@foo)")
    assert outcome(p.parse_full, query)[0] != "crash"


def test_an_entity_in_parentheses_is_the_entity():
    assert repr(p.parse("(@foo)")) == repr(p.Entity("foo", 1))
    assert outcome(p.parse, "a }") == ("error", "unmatched '}'", 2)
