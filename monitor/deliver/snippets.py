"""Snippets: a window of article text around the matched terms, with the hits marked.

Owns `Segment` (a piece of text, hit or not), `highlight` (split a text by hit offsets that
are checked against the text), `snippet` (the window shown under a title) and the two plain
renderings of segments. Pure. Must not know about digests, channels or markup.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

SNIPPET_BEFORE = 90      # characters of context shown before the first hit
SNIPPET_LENGTH = 320     # total snippet length, roughly two lines of a newsletter


@dataclass(frozen=True)
class Segment:
    """A piece of snippet or title text; `hit` marks a matched term."""

    text: str
    hit: bool = False


def _valid(text: str, hits: list[dict]) -> list[tuple[int, int]]:
    """Hit spans that really lie in `text`, sorted and without overlaps."""
    spans = sorted((h["start"], h["end"]) for h in hits
                   if 0 <= h["start"] < h["end"] <= len(text))
    out: list[tuple[int, int]] = []
    for s, e in spans:
        if out and s < out[-1][1]:
            out[-1] = (out[-1][0], max(e, out[-1][1]))
        else:
            out.append((s, e))
    return out


def highlight(text: str, hits: list[dict], lo: int = 0, hi: int | None = None) -> tuple[Segment, ...]:
    """Split text[lo:hi] into plain and hit segments."""
    hi = len(text) if hi is None else hi
    segs: list[Segment] = []
    pos = lo
    for s, e in _valid(text, hits):
        if e <= lo or s >= hi:
            continue
        s, e = max(s, lo), min(e, hi)
        if s > pos:
            segs.append(Segment(text[pos:s]))
        segs.append(Segment(text[s:e], True))
        pos = e
    if pos < hi:
        segs.append(Segment(text[pos:hi]))
    return tuple(segs)


def snippet(row: dict, hits: list[dict]) -> tuple[Segment, ...]:
    """A window of body text around the first hits, or the start of the summary."""
    body_hits = [h for h in hits if h["field"] in ("text", "summary")]
    for fld in ("text", "summary"):
        text = row.get(fld) or ""
        spans = _valid(text, [h for h in body_hits if h["field"] == fld])
        if spans:
            lo = _word_start(text, max(0, spans[0][0] - SNIPPET_BEFORE))
            hi = _word_end(text, min(len(text), lo + SNIPPET_LENGTH))
            segs = highlight(text, [h for h in body_hits if h["field"] == fld], lo, hi)
            return _ellipsize(segs, lo > 0, hi < len(text))
    text = row.get("summary") or row.get("text") or ""
    hi = _word_end(text, min(len(text), SNIPPET_LENGTH))
    return _ellipsize((Segment(text[:hi]),), False, hi < len(text)) if text else ()


def _word_start(text: str, i: int) -> int:
    if i == 0:
        return 0
    j = text.find(" ", i)
    return j + 1 if 0 <= j < i + 20 else i


def _word_end(text: str, i: int) -> int:
    if i >= len(text):
        return len(text)
    j = text.rfind(" ", i - 20, i)
    return j if j > 0 else i


_SPACES = re.compile(r"\s+")


def _ellipsize(segs: tuple[Segment, ...], head: bool, tail: bool) -> tuple[Segment, ...]:
    # Collapse runs of whitespace (extracted text keeps newlines) but keep the single spaces
    # that separate a hit from its neighbours.
    segs = tuple(Segment(_SPACES.sub(" ", s.text), s.hit) for s in segs)
    return ((Segment("… "),) if head else ()) + segs + ((Segment(" …"),) if tail else ())


def plain(segs: tuple[Segment, ...]) -> str:
    return "".join(s.text for s in segs)


def text_snippet(segs: tuple[Segment, ...]) -> str:
    """The snippet for plain-text mail: hits as *term*, wrapped and indented under the title."""
    text = "".join(f"*{s.text}*" if s.hit else s.text for s in segs)
    return textwrap.fill(text, width=78, initial_indent="  ", subsequent_indent="  ",
                         break_long_words=False, break_on_hyphens=False)
