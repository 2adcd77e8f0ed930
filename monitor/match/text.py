"""Normalisation and tokenisation of article and query text, with offsets into the original.

Owns the text model of the rule language: a token is a maximal run of letters, digits
(and the marks attached to them) in the *folded* text, where folding is a per-character
mapping: NFKC, case folding, diacritics removed, and the few letters Unicode does not
decompose (ß, ø, æ, œ, ł, đ, ð, þ, ı) spelled out. Because folding is per character, a
field can be folded in one C-level pass (``str.translate`` with a self-filling table) and
every folded position still maps back to a character of the original text.

Must not know about rules or queries beyond turning a term's text into tokens.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import accumulate

SEP = "\x01"   # never a token character, so it can delimit tokens inside automaton keys

# Letters with no Unicode decomposition that readers still treat as their base letter.
_SPECIAL = str.maketrans({
    "ß": "ss", "ẞ": "SS", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE",
    "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "TH", "ı": "i",
})


def _fold_char(ch: str, keep_case: bool) -> str:
    s = unicodedata.normalize("NFKC", ch)
    if not keep_case:
        s = s.casefold()
    s = unicodedata.normalize("NFKD", s.translate(_SPECIAL))
    out = []
    for c in s:
        cat = unicodedata.category(c)
        if cat in ("Mn", "Me"):
            continue            # diacritics and enclosing marks vanish
        out.append(c if cat[0] in "LNM" else SEP)
    s = "".join(out)
    return s if keep_case else s.casefold().translate(_SPECIAL)


class _FoldTable(dict):
    """A str.translate table that computes and remembers each character's folding."""

    def __init__(self, keep_case: bool):
        super().__init__()
        self.keep_case = keep_case

    def __missing__(self, code: int) -> str:
        value = self[code] = _fold_char(chr(code), self.keep_case)
        return value


FOLD = _FoldTable(keep_case=False)
CASE = _FoldTable(keep_case=True)
_ASCII_TOKENS = re.compile(r"([A-Za-z0-9]+)")
_FOLDED_TOKENS = re.compile(r"([^\x01]+)")


def normalise(text: str) -> list[str]:
    """The normalised tokens of a piece of text (query terms and tests use this)."""
    return _split(text, keep_case=False)[1::2]


def case_tokens(text: str) -> list[str]:
    """Tokens with diacritics removed but case kept: what `{...}` terms compare."""
    return _split(text, keep_case=True)[1::2]


def _split(text: str, keep_case: bool) -> list[str]:
    """Alternating [separator, token, separator, ..., separator] pieces of the folded text."""
    if text.isascii():
        return _ASCII_TOKENS.split(text if keep_case else text.lower())
    return _FOLDED_TOKENS.split(text.translate(CASE if keep_case else FOLD))


@dataclass(frozen=True)
class Token:
    norm: str
    start: int      # offsets in the original text
    end: int


def tokens(text: str) -> list[Token]:
    """Slow, obviously correct tokenisation with original offsets, one character at a time."""
    out: list[Token] = []
    cur: list[str] = []
    start = 0
    last_end = 0
    for i, ch in enumerate(text):
        for c in FOLD[ord(ch)]:
            if c == SEP:
                if cur:
                    out.append(Token("".join(cur), start, last_end))
                    cur = []
            else:
                if not cur:
                    start = i
                cur.append(c)
                last_end = i + 1
        if not FOLD[ord(ch)] and cur:
            last_end = i + 1      # a dropped mark belongs to the token it follows
    if cur:
        out.append(Token("".join(cur), start, last_end))
    return out


class FieldIndex:
    """One field of one article, tokenised once for every rule.

    ``joined`` is SEP + tokens joined by SEP + SEP: the string the automaton scans.
    Original offsets and case forms are computed lazily, only when a hit needs them.
    """

    __slots__ = ("text", "joined", "_parts", "_ascii", "_spans", "_cum")

    def __init__(self, text: str):
        self.text = text
        self._ascii = text.isascii()
        self._parts = _split(text, keep_case=False)
        self.joined = SEP + SEP.join(self._parts[1::2]) + SEP
        self._spans: list[int] | None = None
        self._cum: list[int] | None = None

    def __len__(self) -> int:
        return len(self._parts) // 2

    def token(self, k: int) -> str:
        return self._parts[2 * k + 1]

    def span(self, first: int, last: int) -> tuple[int, int]:
        """Original character offsets of tokens first..last (inclusive)."""
        if self._spans is None:
            self._spans = list(accumulate(map(len, self._parts)))
        s, e = self._spans[2 * first], self._spans[2 * last + 1]
        if self._ascii:
            return s, e
        if self._cum is None:
            self._cum = list(accumulate(len(FOLD[ord(c)]) for c in self.text))
        cum = self._cum
        # a dropped mark after the token belongs to it; a character folded into several
        # tokens (½ -> 1, 2) belongs to each of them
        return bisect_right(cum, s), max(bisect_right(cum, e), bisect_left(cum, e) + 1)

    def case_token(self, k: int) -> str:
        """Token k with its original case (diacritics removed), for `{...}` terms."""
        s, e = self.span(k, k)
        toks = case_tokens(self.text[s:e])
        return toks[0] if len(toks) == 1 else ""
