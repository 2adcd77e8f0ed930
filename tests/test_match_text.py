"""Normalisation and tokenisation: the table from the contract, offsets, and no crash on any Unicode."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.match.text import FieldIndex, case_tokens, normalise, tokens


@pytest.mark.parametrize("text, expected", [
    ("Zelenskyy ZELENSKYY Zélenskyy", ["zelenskyy"] * 3),
    ("Ze\u0301lenskyy", ["zelenskyy"]),                     # decomposed accent
    ("Europe's", ["europe", "s"]),
    ("Europe’s", ["europe", "s"]),
    ("Straße STRASSE", ["strasse", "strasse"]),
    ("Grønland Øresund", ["gronland", "oresund"]),
    ("Æbeltoft", ["aebeltoft"]),
    ("Łódź", ["lodz"]),
    ("ﬁnance", ["finance"]),                                # NFKC ligature
    ("ＮＡＴＯ", ["nato"]),                                  # NFKC full width
    ("F-35, (SAFE)!", ["f", "35", "safe"]),
    ("snake_case", ["snake", "case"]),
    ("", []),
    ("  ... ", []),
])
def test_normalise(text, expected):
    assert normalise(text) == expected


def test_case_tokens_keep_case_but_drop_diacritics():
    assert case_tokens("SAFE Sécurité Straße") == ["SAFE", "Securite", "Strasse"]


@pytest.mark.parametrize("text", ["Kaja Kallas", "Zélenskyy, Grønland; Straße", "a½b ﬁx", "e\u0301 x\u0301y"])
def test_field_index_offsets_match_slow_tokens(text):
    fx = FieldIndex(text)
    slow = tokens(text)
    assert [fx.token(k) for k in range(len(fx))] == [t.norm for t in slow]
    assert [fx.span(k, k) for k in range(len(fx))] == [(t.start, t.end) for t in slow]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_tokenising_any_unicode_never_crashes_and_offsets_agree(text):
    fx = FieldIndex(text)
    slow = tokens(text)
    assert [fx.token(k) for k in range(len(fx))] == [t.norm for t in slow]
    for k, t in enumerate(slow):
        s, e = fx.span(k, k)
        assert (s, e) == (t.start, t.end)
        assert 0 <= s < e <= len(text)
    assert normalise(text) == [t.norm for t in slow]
    case_tokens(text)
