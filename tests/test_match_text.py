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


# v2: the contract's transliteration, written out again here from its text
CONTRACT_CYRILLIC = ("а a, б b, в v, г g, ґ g, д d, ђ d, е e, ё e, є je, ж z, з z, ѕ dz, и i, і i, ї ji, "
                     "й j, ј j, к k, л l, љ lj, м m, н n, њ nj, о o, п p, р r, с s, т t, ћ c, у u, ў u, "
                     "ф f, х ch, ц c, ч c, џ dz, ш s, щ sc, ы y, э e, ю ju, я ja")
CONTRACT_GREEK = ("α a, β v, γ g, δ d, ε e, ζ z, η i, θ th, ι i, κ k, λ l, μ m, ν n, ξ x, ο o, π p, "
                  "ρ r, σ s, ς s, τ t, υ y, φ f, χ ch, ψ ps, ω o")
LETTERS = [tuple(pair.split()) for pair in (CONTRACT_CYRILLIC + ", " + CONTRACT_GREEK).split(", ")]


@pytest.mark.parametrize("letter, latin", LETTERS)
def test_every_cyrillic_and_greek_letter_of_the_contract(letter, latin):
    assert normalise(letter) == [latin]
    assert normalise("x" + letter + "x") == ["x" + latin + "x"]
    if letter.upper() != letter:
        assert case_tokens(letter.upper()) == [latin[0].upper() + latin[1:]]   # Я -> Ja, Θ -> Th


@pytest.mark.parametrize("text, expected, cased", [
    ("Кая Калас", ["kaja", "kalas"], ["Kaja", "Kalas"]),
    ("Каллас", ["kallas"], ["Kallas"]),
    ("Κάλλας", ["kallas"], ["Kallas"]),                       # the tonos goes like any diacritic
    ("объект Подъезд", ["obekt", "podezd"], ["obekt", "Podezd"]),  # ъ and ь are dropped, not separators
    ("Гренландия Їжак Щука", ["grenlandija", "jizak", "scuka"], ["Grenlandija", "Jizak", "Scuka"]),
    ("Ελλάδα ΘΕΜΑ αυτό", ["ellada", "thema", "ayto"], ["Ellada", "ThEMA", "ayto"]),  # no digraph rules
    ("ѓавол ќерка", ["gavol", "kerka"], ["gavol", "kerka"]),  # marked letters by their base letter
    ("東京 दिल्ली", ["東京", "दिलली"], ["東京", "दिलली"]),          # other scripts are kept
])
def test_transliterated_text(text, expected, cased):
    assert normalise(text) == expected
    assert case_tokens(text) == cased


@pytest.mark.parametrize("text", ["Объект Кая, Щука!", "Κάλλας Ψ θ", "ъ ь Ъ", "Подъезд ъъ x"])
def test_offsets_survive_letters_that_change_length(text):
    fx = FieldIndex(text)
    slow = tokens(text)
    assert [fx.token(k) for k in range(len(fx))] == [t.norm for t in slow]
    assert [fx.span(k, k) for k in range(len(fx))] == [(t.start, t.end) for t in slow]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_both_ways_of_finding_token_starts_agree(text):
    """`monitor match` on one file finds token starts by regex (numpy's import would cost
    more than the match); the daemon and long runs by numpy. Same offsets either way."""
    from monitor.match import text as text_module
    folded = " ".join(normalise(text))
    regex = [m.start() for m in text_module._TOKEN.finditer(folded)]
    assert text_module._numpy_token_starts(folded) == regex


def test_one_file_is_tokenised_without_importing_numpy():
    import subprocess
    import sys
    probe = ("import sys\nfrom monitor.match.text import FieldIndex\n"
             "fx = FieldIndex('Kaja Kallas met Ulf Kristersson')\nassert fx.span(1, 1) == (5, 11)\n"
             "print('numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@settings(max_examples=300, deadline=None)
@given(st.text() | st.text(alphabet="ab .,é\u00a0Ж\U0001F600", max_size=600))
def test_both_ways_of_joining_the_tokens_agree(text):
    """Long fields are joined in numpy (FieldIndex.joined), short ones by split and join."""
    from monitor.match import text as text_module
    folded = text_module.fold(text)
    assert text_module._numpy_joined(folded) == " " + " ".join(folded.split()) + " "
    fx = FieldIndex(text)
    assert len(fx) == len(folded.split())
    assert [fx.token(k) for k in range(len(fx))] == folded.split()


@settings(max_examples=200, deadline=None)
@given(st.text() | st.text(alphabet="ab .,ß½é\u0301Ж", max_size=80))
def test_spans_in_one_call_are_each_span(text):
    fx = FieldIndex(text)
    pairs = [(a, b) for a in range(len(fx)) for b in range(a, min(len(fx), a + 3))]
    assert fx.spans(pairs) == [fx.span(a, b) for a, b in pairs]


def _fold_per_character(text, keep_case):
    """The definition: each character's folding (text.FOLD / CASE), concatenated."""
    from monitor.match import text as text_module
    table = text_module.CASE if keep_case else text_module.FOLD
    return "".join(table[ord(c)] for c in text)


_MANY = "ab .,ß½é\u0301Ж\u00a0ﬁ“”’–—…абвгдежзийклмнопрстуфхцчшщыэюя한국어입니다αβγ\U0001F600\ud800"


@settings(max_examples=300, deadline=None)
@given(st.text() | st.text(alphabet=_MANY, min_size=900, max_size=2400)
       | st.text(alphabet=st.characters(max_codepoint=127), max_size=400), st.booleans())
def test_every_way_of_folding_a_text_is_folding_each_character(text, keep_case):
    """_fold replaces a few distinct non-ASCII characters one by one, maps a long text that
    is not all ASCII in numpy (with those that fold to another length, like Hangul, either
    replaced or spread out there) and its ASCII characters by bytes (an all-ASCII text of more
    than _BYTES_FROM characters too): the same text as
    folding each character, and the same characters counted as changing the length."""
    from monitor.match import text as text_module
    table = text_module.CASE if keep_case else text_module.FOLD
    folded, resized = text_module._fold(text, keep_case)
    assert folded == _fold_per_character(text, keep_case)
    assert set(resized) == {c for c in text if len(table[ord(c)]) != 1}
    found = text_module._numpy_fold(text, keep_case)
    if found is not None:
        assert found[0] == folded and set(found[1]) == set(resized)
