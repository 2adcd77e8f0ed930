"""Cutting text to a budget without breaking it: at a word, never inside a link or markup.

Owns `cut_words` (the longest prefix of whole words within a length, with an ellipsis)
and `utf8_len`. Pure. Must not escape for a markup language (the formats do, and they cut
the plain text *before* escaping, or measure the escaped result).
"""

from __future__ import annotations

ELLIPSIS = "…"


def cut_words(text: str, limit: int, ellipsis: str = ELLIPSIS) -> str:
    """`text` if it fits in `limit` characters, else its longest run of whole words that does,
    followed by `ellipsis` (a single over-long word is cut inside as a last resort)."""
    if len(text) <= limit:
        return text
    room = max(0, limit - len(ellipsis))
    head = text[:room + 1]
    cut = head.rfind(" ")
    if cut <= 0 or cut < room // 2:
        cut = room
    return text[:cut].rstrip(" ,;:-–—") + ellipsis


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))
