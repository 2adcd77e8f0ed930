"""Sentence and paragraph boundaries of a field's original text (rule language v2).

Owns the rules of the contract: a paragraph ends at one or more line breaks (`\\n`,
`\\r\\n`, `\\r`, U+2028, U+2029); a sentence ends at a paragraph end, or at `!`, `?` or `.`
followed by whitespace, where a closing quote or bracket right after the mark belongs to
the ending sentence, and a `.` does not end a sentence after a single capital letter
(`J. Smith`), after letters joined by dots (`U.S.`, `e.g.`, `z.B.`), after one of the
abbreviations below (`Mr.`, `Dr.`, `Prof.`, ...), or after a number abbreviation
(`No.`, `Art.`, `p.`) that a digit follows. The title is one sentence and one paragraph
whatever its punctuation (the caller treats it so).

Boundaries are character offsets where a new sentence / paragraph starts; a token
belongs to the unit counted by the boundaries at or before its first character.
Must not tokenise: text.py maps tokens to offsets.
"""

from __future__ import annotations

import re
from bisect import bisect_right

# lowercase, without their dot; documented in docs/rules.md
ABBREVIATIONS = frozenset("""
    mr mrs ms mx dr prof st jr sr gen col lt sgt capt cmdr adm gov sen rep pres hon rev mt ft
    vs approx ca inc ltd corp co dept jan feb mar apr jun jul aug sep sept oct nov dec
    bzw vgl usw ggf inkl hr fr dipl mme mlle mgr sra srta dott sig ing np tzw ul dhr mevr
""".split())
NUMBER_ABBREVIATIONS = frozenset("no nos nr art p pp vol fig par".split())

_PARAGRAPH_END = re.compile(r"[\n\r\u2028\u2029]+")
_MARK = re.compile(r"[.!?][\"'”’»›)\]}」』]*(?=\s)")
_DOTTED = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")
_OPENERS = "\"'“‘«‹([{„"


def paragraph_starts(text: str) -> list[int]:
    """Offsets where a paragraph after the first one starts, ascending: where each run of line
    breaks ends. When "\n" is the only line break (nearly always), from the lengths of the
    lines, a fifth of the time of the regex's character-class scan."""
    if "\r" in text or "\u2028" in text or "\u2029" in text:
        return [m.end() for m in _PARAGRAPH_END.finditer(text)]
    lines = text.split("\n")
    out = []
    at = 0
    last = len(lines) - 1
    for i, line in enumerate(lines):
        at += len(line) + 1                 # just after the line break that ends line i
        if i < last and (lines[i + 1] or i + 1 == last):
            out.append(at)
    return out


def sentence_starts(text: str) -> list[int]:
    """Offsets where a sentence after the first one starts (paragraph starts included), ascending.

    The ends of `_MARK`'s matches that end a sentence, found with str.find per mark
    character instead of the regex's character-class scan (which cost about 7 ns a
    character, a third of the whole), and the common word before a dot (letters only, not an
    abbreviation) decided inline; the same offsets as
    `[m.end() for m in _MARK.finditer(text) if _ends_sentence(text, m.start())]`
    (tests/test_match_v2.py)."""
    ends = set(paragraph_starts(text))
    n = len(text)
    closers = _CLOSERS
    find = text.find
    for mark in ".!?":
        i = find(mark)
        while i >= 0:
            j = i + 1
            while j < n and text[j] in closers:
                j += 1
            if j < n and text[j].isspace() and (mark != "." or _dot_ends(text, i)):
                ends.add(j)
            i = find(mark, i + 1)
    return sorted(ends)


def sentence_break(text: str, lo: int, hi: int) -> bool:
    """Whether a sentence starts at an offset s with lo < s <= hi: `any(lo < s <= hi for s in
    sentence_starts(text))`, found in text[lo:hi] only (a NEAR/s between two nearby
    occurrences asks this instead of every boundary of the text; tests/test_match_v2.py)."""
    if hi <= lo:
        return False
    if paragraph_break(text, lo, hi):
        return True
    n = len(text)
    closers = _CLOSERS
    find = text.find
    start = _closers_before(text, lo)   # a mark before lo whose closers reach past it
    start = start - 1 if start else 0
    for mark in ".!?":
        i = find(mark, start, hi)
        while i >= 0:
            j = i + 1
            while j < n and text[j] in closers:
                j += 1
            if lo < j <= hi and j < n and text[j].isspace() and (mark != "." or _dot_ends(text, i)):
                return True
            i = find(mark, i + 1, hi)
    return False


def starts_in(text: str, lo: int, hi: int, unit: str = "s") -> list[int]:
    """The sentence ("s") or paragraph ("p") starts s with lo < s <= hi, ascending: those of
    sentence_starts(text) (paragraph_starts), found in a slice around text[lo:hi]. What decides a
    start lies within a few characters of it: the mark and its closers before it (backed over
    from lo, as sentence_break does), the word before a dot (24 characters), the space and
    digit after one, the end of a run of line breaks (tests/test_match_v2.py)."""
    a = _closers_before(text, lo)
    a = a - _BEFORE if a > _BEFORE else 0
    b = hi + _AFTER
    found = (sentence_starts if unit == "s" else paragraph_starts)(text[a:b] if a or b < len(text) else text)
    return [a + s for s in found if lo < a + s <= hi]


def unit_around(text: str, at: int, unit: str = "s") -> tuple[int, int]:
    """The last unit start at or before offset `at` (0: none, the text's first unit) and the
    first after it (len(text) + 1: none), read from a window around `at` that grows until it
    holds both, so a NEAR/s asks for the sentences of its few occurrences, not every boundary
    of the text (most sentences are shorter than the first window)."""
    n = len(text)
    width = _WINDOW
    while True:
        lo = at - width if at > width else 0
        hi = at + width if at + width < n else n
        found = starts_in(text, lo, hi, unit)
        k = bisect_right(found, at)
        if (k or not lo) and (k < len(found) or hi == n):
            return found[k - 1] if k else 0, found[k] if k < len(found) else n + 1
        width *= 4


def _closers_before(text: str, lo: int) -> int:
    """Where the run of closing quotes and brackets that ends at lo starts (lo if none): a
    mark just before it ends a sentence after lo, so a window read from lo starts there."""
    while lo > 0 and text[lo - 1] in _CLOSERS:
        lo -= 1
    return lo


_BEFORE = 32       # characters a slice keeps before a window (the word before a dot: 24)
_AFTER = 8         # and after it (the space and a digit after a mark: 4)
_WINDOW = 200      # characters unit_around reads first on each side (more than most sentences)


def _dot_ends(text: str, i: int) -> bool:
    """Whether the dot at i (followed by closers and a space) ends a sentence: the common case
    first, a word of two or more letters (so without an opener, a dot or a space in it) that
    is no abbreviation; else _ends_sentence."""
    before = text[i - 24 if i > 24 else 0:i]
    word = before[before.rfind(" ") + 1:]
    return (len(word) > 1 and word.isalpha() and word.lower() not in _SHORT_WORDS) or _ends_sentence(text, i)


def paragraph_break(text: str, lo: int, hi: int) -> bool:
    """Whether a paragraph starts at an offset s with lo < s <= hi (`paragraph_starts`): the
    end of a run of line breaks that has a line break in text[lo:hi] and ends by hi."""
    n = len(text)
    for c in _BREAKS:
        i = text.find(c, lo, hi)
        if i >= 0:
            while i < n and text[i] in _BREAKS:
                i += 1
            if i <= hi:
                return True
    return False


_BREAKS = "\n\r\u2028\u2029"
_CLOSERS = frozenset("\"'”’»›)]}」』")
_SHORT_WORDS = frozenset(ABBREVIATIONS | NUMBER_ABBREVIATIONS)


def _ends_sentence(text: str, at: int) -> bool:
    if text[at] != ".":
        return True                  # ! and ? always end a sentence
    before = text[max(0, at - 24):at]          # the word: up to 24 non-space characters before it
    word = before.rsplit(None, 1)[-1].lstrip(_OPENERS) if before and not before[-1].isspace() else ""
    if len(word) == 1 and word.isupper():
        return False                 # an initial: "Donald J. Trump"
    low = word.lower()
    if low in ABBREVIATIONS or "." in word and _DOTTED.fullmatch(word):
        return False
    if low in NUMBER_ABBREVIATIONS:
        rest = text[at + 1:at + 4].lstrip()
        return not rest[:1].isdigit()
    return True
