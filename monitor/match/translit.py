"""The fixed transliteration of Cyrillic and Greek letters to Latin (rule language v2).

Owns the two tables of the contract (`../shared/design/rule-language.md`, "v2: the
corners, decided"): Cyrillic by the scientific transliteration with its marks already
dropped (ж z, ч c, ш s, щ sc, х ch, ...), Greek by the ELOT 743 letters without digraph
rules (υ y, θ th, χ ch, ψ ps, ...). No library implements exactly these schemes
(anyascii, unidecode and ICU give `Кая` -> `Kaya` and use digraph rules for Greek), so
the table is written out here, letter by letter, from the contract.

Case is kept: an uppercase letter gives an uppercase first Latin letter (`Я` -> `Ja`,
`Θ` -> `Th`). A letter with a mark that is not in the table (`ά`, `ѓ`, `ϊ`) is
transliterated by its base letter and keeps the mark, which the caller's diacritic
removal then drops. Other scripts pass through unchanged.

Must not fold case or remove diacritics itself: text.py does that after this step.
"""

from __future__ import annotations

import unicodedata

CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "ґ": "g", "д": "d", "ђ": "d", "е": "e", "ё": "e",
    "є": "je", "ж": "z", "з": "z", "ѕ": "dz", "и": "i", "і": "i", "ї": "ji", "й": "j", "ј": "j",
    "к": "k", "л": "l", "љ": "lj", "м": "m", "н": "n", "њ": "nj", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "ћ": "c", "у": "u", "ў": "u", "ф": "f", "х": "ch", "ц": "c", "ч": "c",
    "џ": "dz", "ш": "s", "щ": "sc", "ъ": "", "ь": "", "ы": "y", "э": "e", "ю": "ju", "я": "ja",
}

GREEK = {
    "α": "a", "β": "v", "γ": "g", "δ": "d", "ε": "e", "ζ": "z", "η": "i", "θ": "th", "ι": "i",
    "κ": "k", "λ": "l", "μ": "m", "ν": "n", "ξ": "x", "ο": "o", "π": "p", "ρ": "r", "σ": "s",
    "ς": "s", "τ": "t", "υ": "y", "φ": "f", "χ": "ch", "ψ": "ps", "ω": "o",
}


def _with_capitals(table: dict[str, str]) -> dict[str, str]:
    out = dict(table)
    for small, latin in table.items():
        capital = small.upper()
        if capital != small and len(capital) == 1:
            out[capital] = latin[:1].upper() + latin[1:]
    return out


LETTERS: dict[str, str] = {**_with_capitals(CYRILLIC), **_with_capitals(GREEK)}


def transliterate_char(ch: str) -> str:
    """One character in Latin letters if it is a Cyrillic or Greek letter, else unchanged."""
    latin = LETTERS.get(ch)
    if latin is not None:
        return latin
    if "\u0370" <= ch <= "\u04ff" or "\u1f00" <= ch <= "\u1fff":
        parts = unicodedata.normalize("NFD", ch)
        latin = LETTERS.get(parts[0])
        if latin is not None:
            return latin + parts[1:]
    return ch


def transliterate(text: str) -> str:
    """Text with every Cyrillic and Greek letter in Latin letters (for tests and tools)."""
    return "".join(map(transliterate_char, text))
