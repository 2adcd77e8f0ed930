"""Normalisation and tokenisation of article and query text, with offsets into the original.

Owns the text model of the rule language: a token is a maximal run of letters, digits
(and the marks attached to them) in the *folded* text, where folding is a per-character
mapping: NFKC, Cyrillic and Greek letters transliterated to Latin (translit.py, v2),
case folding, diacritics removed, and the few letters Unicode does not decompose
(ß, ø, æ, œ, ł, đ, ð, þ, ı) spelled out. Because folding is per character, a
field can be folded in one C-level pass (``str.translate`` with a self-filling table) and
every folded position still maps back to a character of the original text.

Must not know about rules or queries beyond turning a term's text into tokens.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from monitor.match.sentences import (
    paragraph_break,
    paragraph_starts,
    sentence_break,
    sentence_starts,
    unit_around,
)
from monitor.match.translit import transliterate_char

SEP = " "   # the one separator left in folded text, and the token delimiter in automaton keys

_SEP_RUN = re.compile(" +")

# Letters with no Unicode decomposition that readers still treat as their base letter.
_SPECIAL = str.maketrans({
    "ß": "ss", "ẞ": "SS", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE",
    "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "TH", "ı": "i",
})


def _fold_once(s: str, keep_case: bool) -> str:
    s = "".join(map(transliterate_char, unicodedata.normalize("NFKC", s)))
    if not keep_case:
        s = s.casefold().lower()
    s = unicodedata.normalize("NFKD", s.translate(_SPECIAL))
    out = []
    for c in s:
        cat = unicodedata.category(c)
        if cat in ("Mn", "Me"):
            continue            # diacritics and enclosing marks vanish
        out.append(c if cat[0] in "LNM" else SEP)
    # a run of separators is one separator: "…" folds to one SEP, not three, so that
    # punctuation never changes the length and offsets stay cheap to map back
    return _SEP_RUN.sub(SEP, "".join(out))


def _fold_char(ch: str, keep_case: bool) -> str:
    """One character's folding, iterated to a fixed point so folding twice changes nothing
    (the fast path replaces characters one distinct character at a time)."""
    value = _fold_once(ch, keep_case)
    for _ in range(3):
        again = "".join(_fold_once(c, keep_case) if c != SEP else c for c in value)
        if again == value:
            return value
        value = again
    return SEP   # no stable folding: treat as punctuation


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
_ASCII_FOLD = str.maketrans({chr(i): (chr(i).lower() if chr(i).isalnum() else SEP) for i in range(128)})
_ASCII_CASE = str.maketrans({chr(i): (chr(i) if chr(i).isalnum() else SEP) for i in range(128)})


_ASCII_BYTES = bytes(range(128))


def _non_ascii(text: str) -> set[str]:
    """The distinct non-ASCII characters of a text: its UTF-8 with the ASCII bytes deleted in
    C (every byte of a longer sequence is above 127, so what is left decodes to exactly the
    other characters). News text is nearly all ASCII: a third quicker than removing the
    ASCII runs by regex, and much quicker than finding each other character."""
    return set(text.encode("utf-8", "surrogatepass").translate(None, _ASCII_BYTES).decode("utf-8", "surrogatepass"))


def fold(text: str, keep_case: bool = False) -> str:
    """The text folded character by character: tokens separated by runs of SEP."""
    return _fold(text, keep_case)[0]


def _fold(text: str, keep_case: bool) -> tuple[str, str]:
    """The folded text and the characters whose folding changed the length.

    A field of _NUMPY_FOLD characters or more that is not all ASCII is mapped in numpy
    (`_numpy_fold`: one look-up per code point in tables filled as characters are met). A
    shorter one: its distinct non-ASCII characters through the folding table, each with one
    C-level str.replace, then the ASCII characters by bytes.translate over the UTF-8, which
    leaves every byte of a longer sequence as it is (a fifth of the time of str.translate
    on a text that is not all ASCII). A replace is a pass over the text: an article of
    53,000 characters with 65 distinct ones cost 4.2 ms that way, one in Cyrillic with 325
    letters 1.3 ms. All give the same text: a folded character's folding is itself
    (tests/test_match_text.py).
    """
    resized = ""
    if not text.isascii():
        if len(text) >= _NUMPY_FOLD and _numpy_now():
            found = _numpy_fold(text, keep_case)
            if found is not None:
                return found
        table = CASE if keep_case else FOLD
        chars = _non_ascii(text)
        for c in chars:
            folded = table[ord(c)]
            text = text.replace(c, folded)
            if len(folded) != 1:
                resized += c
        if len(text) > _BYTES_FROM:
            return (text.encode("utf-8", "surrogatepass").translate(_BYTES_CASE if keep_case else _BYTES_FOLD)
                    .decode("utf-8", "surrogatepass"), resized)
    elif len(text) > _BYTES_FROM:   # all ASCII: bytes.translate, half the time of str.translate
        return text.encode("ascii").translate(_BYTES_CASE if keep_case else _BYTES_FOLD).decode("ascii"), ""
    return text.translate(_ASCII_CASE if keep_case else _ASCII_FOLD), resized


_REPLACE_MAX = 8        # characters that fold to another length, replaced one by one; more: in numpy
_NUMPY_FOLD = 1_000     # characters from which a text that is not all ASCII is folded in numpy
_BYTES_FROM = 64        # characters from which the ASCII pass of a non-ASCII text goes by bytes
_BYTES_FOLD = bytes(ord(_ASCII_FOLD[i]) if i < 128 else i for i in range(256))
_BYTES_CASE = bytes(ord(_ASCII_CASE[i]) if i < 128 else i for i in range(256))


class _NumpyFold:
    """A folding table as numpy arrays over the Basic Multilingual Plane, filled as
    characters are met: by code point, its folding when that is one character (`lut`; else
    _GROWN, or _UNKNOWN for a character not met yet), its folding's length and where that
    folding starts in `pieces` (the foldings of the characters met, one after the other)."""

    def __init__(self, table: _FoldTable, ascii_table: dict[int, str]):
        import numpy as np
        self.table = table
        self.lut = np.full(0x10000, _UNKNOWN, dtype=np.uint32)
        self.size = np.ones(0x10000, dtype=np.intp)
        self.start = np.zeros(0x10000, dtype=np.intp)
        self.folds: list[str] = []
        self.pieces = np.zeros(0, dtype=np.uint32)
        self._learn([(i, ascii_table[i]) for i in range(128)])

    def _learn(self, found: list[tuple[int, str]]) -> None:
        import numpy as np
        at = sum(map(len, self.folds))
        for c, folded in found:
            self.lut[c] = ord(folded) if len(folded) == 1 else _GROWN
            self.size[c] = len(folded)
            self.start[c] = at
            at += len(folded)
            self.folds.append(folded)
        self.pieces = np.frombuffer("".join(self.folds).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)

    def fold(self, text: str) -> tuple[str, str] | None:
        import numpy as np
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        if not len(codes) or int(codes.max()) >= 0x10000:
            return None
        mapped = self.lut.take(codes)
        top = int(mapped.max())
        if top == _UNKNOWN:                 # characters not met yet
            self._learn([(c, self.table[c]) for c in np.unique(codes[mapped == _UNKNOWN]).tolist()])
            mapped = self.lut.take(codes)
            top = int(mapped.max())
        if top < _GROWN:                    # none folds to another length
            return mapped.tobytes().decode("utf-32-le", "surrogatepass"), ""
        grown = mapped == _GROWN
        resized = "".join(map(chr, np.unique(codes[grown]).tolist()))
        if len(resized) <= _REPLACE_MAX:
            mapped[grown] = codes[grown]
            out = mapped.tobytes().decode("utf-32-le", "surrogatepass")
            for c in resized:
                out = out.replace(c, self.table[ord(c)])
            return out, resized
        # many (Hangul decomposes to its letters): each code point's folding from `pieces`
        size = self.size.take(codes)
        ends = np.cumsum(size)
        where = np.repeat(self.start.take(codes) - (ends - size), size) + np.arange(int(ends[-1]))
        return self.pieces.take(where).tobytes().decode("utf-32-le", "surrogatepass"), resized


_UNKNOWN = 0xFFFFFFFF    # in _NumpyFold.lut: a character not met yet
_GROWN = 0xFFFFFFFE      # one that folds to another length than one
_numpy_tables: dict[bool, _NumpyFold] = {}


def _numpy_fold(text: str, keep_case: bool) -> tuple[str, str] | None:
    """_fold in numpy (None for a text beyond the Basic Multilingual Plane)."""
    table = _numpy_tables.get(keep_case)
    if table is None:
        table = _numpy_tables[keep_case] = _NumpyFold(CASE if keep_case else FOLD,
                                                      _ASCII_CASE if keep_case else _ASCII_FOLD)
    return table.fold(text)


def normalise(text: str) -> list[str]:
    """The normalised tokens of a piece of text (query terms and tests use this)."""
    return fold(text).split()


def case_tokens(text: str) -> list[str]:
    """Tokens with diacritics removed but case kept: what `{...}` terms compare."""
    return fold(text, keep_case=True).split()


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

    ``joined`` is SEP + tokens joined by SEP + SEP: the string the automaton scans (made
    without a list of the tokens, `_joined`). Original offsets and case forms are computed
    lazily, only when a hit needs them.
    """

    __slots__ = ("text", "joined", "_folded", "_resized", "_n", "_starts", "_cum", "_units", "_bounds", "_lazy")

    def __init__(self, text: str):
        self.text = text
        self._folded, self._resized = _fold(text, False)
        self.joined = _joined(self._folded)
        self._n = -1
        self._starts: list[int] | None = None
        self._cum: tuple[list[int], list[int]] | None = None
        self._units: dict[str, list[int]] = {}
        self._bounds: dict[str, list[int]] = {}
        self._lazy = 0          # characters unit_break has read, plus LAZY_CALL a call

    def __len__(self) -> int:
        """The number of tokens: the separators of `joined` less one ("  " has none)."""
        if self._n < 0:
            self._n = 0 if len(self.joined) == 2 else self.joined.count(SEP) - 1
        return self._n

    def token(self, k: int) -> str:
        s = self._folded_span(k)
        return self._folded[s:self._token_end(s)]

    def _token_end(self, s: int) -> int:
        """The end of the folded token starting at s (at the next separator)."""
        e = self._folded.find(SEP, s)
        return len(self._folded) if e < 0 else e

    def _folded_span(self, k: int) -> int:
        if self._starts is None:
            self._starts = _token_starts(self._folded)
        return self._starts[k]

    def spans(self, pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """span(first, last) of each pair, in one call (to_hits makes a few dozen an article)."""
        if self._resized:
            return [self.span(a, b) for a, b in pairs]
        if self._starts is None:
            self._starts = _token_starts(self._folded)
        starts, find, n = self._starts, self._folded.find, len(self._folded)
        out = []
        for a, b in pairs:
            e = find(SEP, starts[b])
            out.append((starts[a], n if e < 0 else e))
        return out

    def span(self, first: int, last: int) -> tuple[int, int]:
        """Original character offsets of tokens first..last (inclusive)."""
        s = self._folded_span(first)
        e = self._token_end(self._folded_span(last))
        if not self._resized:
            return s, e     # every character folded to exactly one: offsets are unchanged
        # a dropped mark after the token belongs to it; a character folded into several
        # tokens (½ -> 1, 2) belongs to each of them
        return self._count(s), max(self._count(e), self._count(e - 1) + 1)

    def unit_starts(self, unit: str) -> list[int]:
        """Character offsets where a new sentence ("s") or paragraph ("p") starts (v2)."""
        found = self._units.get(unit)
        if found is None:
            found = self._units[unit] = (sentence_starts if unit == "s" else paragraph_starts)(self.text)
        return found

    def unit_bounds(self, unit: str) -> list[int]:
        """For each sentence ("s") or paragraph ("p") start after the first, the first token
        that starts at or after it: token k is in unit bisect_right(bounds, k). Found once
        per field and unit, so a NEAR/s asks one bisect per occurrence, not two offsets."""
        found = self._bounds.get(unit)
        if found is None:
            starts = self.unit_starts(unit)
            if not self._resized:       # original and folded offsets are the same
                if self._starts is None:
                    self._starts = _token_starts(self._folded)
                tok = self._starts
                found = [bisect_left(tok, s) for s in starts]
            else:                       # original starts are non-decreasing in the token
                first = self._orig_start
                found = [bisect_left(range(len(self)), s, key=first) for s in starts]
            self._bounds[unit] = found
        return found

    def lazy_units(self, unit: str) -> bool:
        """Whether unit_break should be asked rather than unit_bounds: the bounds are not
        found yet, every character folded to one, and unit_break's reading so far has not
        reached the length of the text (past that, the bounds are cheaper)."""
        return unit not in self._bounds and not self._resized and self._lazy < len(self.text)

    def unit_break(self, unit: str, a: int, b: int) -> bool:
        """Whether tokens a <= b are in different sentences ("s") or paragraphs ("p"):
        `bisect_right(bounds, a) != bisect_right(bounds, b)` with unit_bounds, which holds
        exactly when a unit starts after token a's first character and at or before token
        b's. Read from the text between the two (sentences.sentence_break) while
        lazy_units(unit), so a NEAR/s between occurrences a few tokens apart does not find
        every boundary of the text (41 us a text); once its reading has added up to the
        length of the text, from the bounds."""
        if a == b:
            return False
        if self.lazy_units(unit):
            starts = self._starts
            if starts is None:
                starts = self._starts = _token_starts(self._folded)
            lo, hi = starts[a], starts[b]
            self._lazy += hi - lo + LAZY_CALL
            return (sentence_break if unit == "s" else paragraph_break)(self.text, lo, hi)
        bounds = self.unit_bounds(unit)
        return bisect_right(bounds, a) != bisect_right(bounds, b)

    def unit_range(self, unit: str, k: int) -> tuple[int, int]:
        """The first and last token of the sentence ("s") or paragraph ("p") holding token k:
        the tokens j with `not unit_break(unit, min(j, k), max(j, k))`. Read from the text
        around token k (sentences.unit_around) while lazy_units(unit), else from the bounds."""
        if self.lazy_units(unit):
            starts = self._starts
            if starts is None:
                starts = self._starts = _token_starts(self._folded)
            before, after = unit_around(self.text, starts[k], unit)
            self._lazy += min(after, len(self.text)) - before + LAZY_CALL
            return bisect_left(starts, before), bisect_left(starts, after) - 1
        bounds = self.unit_bounds(unit)
        u = bisect_right(bounds, k)
        return bounds[u - 1] if u else 0, bounds[u] - 1 if u < len(bounds) else len(self) - 1

    def _orig_start(self, k: int) -> int:
        return self.span(k, k)[0]

    def _count(self, x: int) -> int:
        """How many original characters end at or before folded position x.

        Only the few characters whose folding changes the length are indexed: between
        two of them, original and folded positions advance together.
        """
        if self._cum is None:
            text, idx, cum, extra = self.text, [], [], 0
            for c in self._resized:         # a few distinct characters: found by str.find
                i = text.find(c)
                while i >= 0:
                    idx.append(i)
                    i = text.find(c, i + 1)
            idx.sort()
            for i in idx:
                extra += len(FOLD[ord(text[i])]) - 1
                cum.append(i + 1 + extra)
            self._cum = (idx, cum)
        idx, cum = self._cum
        k = bisect_right(cum, x)
        prev_idx, prev_cum = (idx[k - 1], cum[k - 1]) if k else (-1, 0)
        next_idx = idx[k] if k < len(idx) else len(self.text)
        return prev_idx + 1 + min(max(x - prev_cum, 0), next_idx - prev_idx - 1)

    def first_chars(self) -> tuple[str, list[int]] | tuple[()]:
        """(the text, each token's start in it) when every character folded to exactly one
        (token k then starts with text[starts[k]], the first character of case_token(k) when
        it is ASCII), else (): for a quick case check of many occurrences (evaluate.py)."""
        if self._resized:
            return ()
        starts = self._starts
        if starts is None:
            starts = self._starts = _token_starts(self._folded)
        return self.text, starts

    def case_token(self, k: int) -> str:
        """Token k with its original case (diacritics removed), for `{...}` terms: the case
        tokens of its original characters (one token, else "")."""
        if self._resized:
            s, e = self.span(k, k)
        else:                   # span(k, k) when every character folded to one, inline
            starts = self._starts
            if starts is None:
                starts = self._starts = _token_starts(self._folded)
            s = starts[k]
            e = self._folded.find(SEP, s)
            if e < 0:
                e = len(self._folded)
        piece = self.text[s:e]
        if piece.isascii() and piece.isalnum():
            return piece        # what case_tokens gives for plain ASCII letters and digits, faster
        toks = case_tokens(piece)
        return toks[0] if len(toks) == 1 else ""


LAZY_CALL = 256         # characters a unit_break call counts for beside those it reads
_TOKEN = re.compile(f"[^{SEP}]+")
_NUMPY_AFTER = 32       # texts tokenised before `_token_starts` pays for importing numpy
_NUMPY_FROM = 256       # characters from which `_joined` is quicker in numpy (a title is not)
_texts_seen = 0


def _token_starts(folded: str) -> list[int]:
    """Where each token of a folded text starts: a character that is not SEP after one that
    is (or at 0). In numpy, over the code points (one per str index in UTF-32), about a sixth
    of the time of a regex pass on a news article, and every hit needs these offsets. But
    importing numpy costs about 0.13 s, more than `monitor match` on one file may take to
    start (issue 18): so the regex pass serves until numpy is loaded anyway (the daemon's
    story index loads it) or this process has tokenised `_NUMPY_AFTER` texts. Both give the
    same offsets (tests/test_match_text.py)."""
    if not _numpy_now():
        return [m.start() for m in _TOKEN.finditer(folded)]
    return _numpy_token_starts(folded)


def _numpy_now() -> bool:
    """Whether to use numpy for this text (see _token_starts)."""
    global _texts_seen
    _texts_seen += 1
    return "numpy" in sys.modules or _texts_seen > _NUMPY_AFTER


def _joined(folded: str) -> str:
    """SEP + the tokens of a folded text joined by SEP + SEP. In numpy (once it is in use,
    _numpy_now) by keeping each character that is a token's or follows one: a third of the
    time of splitting into a list of fresh strings and joining them, which nothing else
    needed (tests/test_match_text.py checks they agree)."""
    if len(folded) < _NUMPY_FROM or not _numpy_now():
        return SEP + SEP.join(folded.split()) + SEP
    return _numpy_joined(folded)


def _numpy_joined(folded: str) -> str:
    import numpy as np
    if folded.isascii():
        codes = np.frombuffer(folded.encode("ascii"), dtype=np.uint8)
        encoding = "ascii"
    else:
        codes = np.frombuffer(folded.encode("utf-32-le"), dtype=np.uint32)
        encoding = "utf-32-le"
    word = codes != ord(SEP)
    keep = word.copy()
    keep[1:] |= word[:-1]
    kept = codes[keep].tobytes().decode(encoding)
    return SEP + kept if kept.endswith(SEP) else SEP + kept + SEP


def _numpy_token_starts(folded: str) -> list[int]:
    import numpy as np
    text = SEP + folded
    if text.isascii():
        codes = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    else:
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    word = codes != ord(SEP)
    return np.flatnonzero(word[1:] & ~word[:-1]).tolist()
