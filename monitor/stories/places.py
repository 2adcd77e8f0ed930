"""Place names across languages: "Spanien", "España", "Іспанія" and "Spain" are one place.

Owns the gazetteer the related level (`stories.related`) uses to turn a country or a large
city written in any of the languages monitor sees most into one language-independent term.
Rewrites of one event in other languages keep its places but spell them their own way
("Cile", "Şili", "Chile"; "Lissabon", "Lisbon"), and a name inflected by its sentence
("Portugals", "у Вільнюсі") is the same place. The names come from the Unicode CLDR as the
`babel` package ships it (country and territory names, and the exemplar cities of the time
zones, in each language): no download, built once per process on first use. Must not do I/O
beyond reading babel's packaged data, nor decide anything about stories.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# the languages of the feeds monitor is used on most (and of the real dev set's pages)
LOCALES = ("en", "de", "fr", "es", "it", "pt", "nl", "sv", "da", "nb", "fi", "is", "pl", "cs",
           "tr", "uk", "ru", "ar", "hi", "id", "ro", "hu", "el")
MIN_CHARS = 4               # shorter names ("Iran" is four) are too often other words
MAX_WORDS = 3               # "Bosnia and Herzegovina"-style names longer than this are skipped
# endings a sentence adds to a place name: genitive -s, Slavic cases (у Вільнюсі, Литви)
_VOWELS = frozenset("aeiouyäöüåæøáéíóúâêîôûàèìòùãõıіаяеоиюєїыэуё")
# combining marks (the vowel signs and viramas of the Indic scripts, Thai's and Myanmar's vowels, a
# decomposed accent) belong to the word they sit on: `\w` alone cuts "भारत" into "भ" and "रत"
MARKS = "".join(re.escape(c) for c in map(chr, range(0x300, 0x10000)) if unicodedata.category(c).startswith("M"))
WORD = re.compile(rf"[\w{MARKS}]+")
_PAREN = re.compile(r"\s*\(([^)]*)\)\s*")
# time-zone cities that are mostly ordinary words in headlines, or too small to name an event
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "ZZ", "QO"})     # unions, "unknown region"
_NOT_PLACES = frozenset("center easter midway wake truk casey palmer troll davis mawson vostok macquarie "
                        "creston eucla currie knox marengo monticello vevay winamac beulah salem "
                        # English words and first names that are a place's name in some language
                        "christmas island reunion jersey francis maurice regina stanley nome roman "
                        "madre service servis daca dili sarki".split())


@lru_cache(maxsize=1 << 16)
def fold(word: str) -> str:
    """Case and accents folded: "Zelenskyy" and "ZELENSKYY", "Bayrou" and "Bayróu" compare
    equal (place names here, and every name and word `stories.related` compares)."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _names(text: str) -> list[str]:
    """"Myanmar (Birmania)" -> ["Myanmar", "Birmania"]; "Bosnia & Herzegovina" as it is."""
    out = [_PAREN.sub(" ", text).strip()]
    out += [m.strip() for m in _PAREN.findall(text)]
    return [n for n in out if n]


def _written_names() -> dict[str, set[str]]:
    """Every folded name of every place in every locale of `LOCALES`, with the places it names."""
    from babel import Locale
    from babel.core import get_global

    seen: dict[str, set[str]] = {}

    def put(name: str, place: str) -> None:
        words = [fold(w) for w in WORD.findall(name)]
        if words and len(words) <= MAX_WORDS and len("".join(words)) >= MIN_CHARS \
                and " ".join(words) not in _NOT_PLACES:
            seen.setdefault(" ".join(words), set()).add(place)

    zones = [z for z in get_global("zone_territories")
             if z.count("/") == 1 and not z.startswith(("Etc/", "Antarctica/"))
             and fold(z.rsplit("/", 1)[1].replace("_", " ")) not in _NOT_PLACES]
    for zone in zones:                           # the city as the zone id writes it: "New_York"
        put(zone.rsplit("/", 1)[1].replace("_", " "), zone)
    for code in LOCALES:
        try:
            locale = Locale.parse(code)
        except Exception:  # noqa: BLE001 - a babel without this locale: fewer names, not an error
            continue
        for territory, text in locale.territories.items():
            if territory.isalpha() and len(territory) == 2 and territory not in _NOT_COUNTRIES:
                for name in _names(text):
                    put(name, territory)
        for zone in zones:
            city = locale.time_zones.get(zone, {}).get("city")
            if city:
                put(city, zone)
    return seen


@lru_cache(maxsize=1)
def gazetteer() -> tuple[dict[str, str], dict[str, str], frozenset[str]]:
    """(folded name -> place, folded stem -> place, first words of names of two words or more).

    A place is an ISO 3166 code ("ES") or a time zone's city ("Europe/Lisbon"). Names that
    two places share in some language are dropped (a name must say which place it is; but a
    country and a city of its own name, "Panama", are the country); a stem is a name of five
    letters or more without its final vowel, for inflected forms ("Литви" for "Литва").
    """
    from babel.core import get_global

    country = get_global("zone_territories")
    exact: dict[str, str] = {}
    for name, places in _written_names().items():
        lands = {country.get(p, p) for p in places}     # "Panama", "Kuwait": the country
        if len(places) == 1:
            exact[name] = next(iter(places))
        elif len(lands) == 1 and next(iter(lands)) in places:
            exact[name] = next(iter(lands))
    stems: dict[str, set[str]] = {}
    for name, place in exact.items():
        if " " not in name and len(name) >= 5 and name[-1] in _VOWELS:
            stems.setdefault(name[:-1], set()).add(place)
    stem = {s: next(iter(p)) for s, p in stems.items() if len(p) == 1 and s not in exact}
    firsts = frozenset(name.split(" ", 1)[0] for name in exact if " " in name)
    _release_locale_data()
    return exact, stem, firsts


def _release_locale_data() -> None:
    """Let babel drop the locale data read for the gazetteer: about 24 MB per process (main
    and each worker) that nothing reads again. babel keeps it in two module caches, which it
    refills if anything asks for a locale later; a babel without them keeps its data."""
    from babel import localedata

    for name in ("_cache", "_dict_cache"):
        cache = getattr(localedata, name, None)
        if isinstance(cache, dict):
            cache.clear()


@lru_cache(maxsize=1 << 16)
def place_of(folded: str) -> str | None:
    """The place a folded word names, allowing for an ending its sentence added; else None.

    In the Latin script only a genitive "s" ("Portugals", "Spaniens") and the demonym of a
    country ending in -a ("Russian", "Syrians", "Indonesian"): Romance and Germanic words one
    letter from a place name are too often other words ("madre", "viene", "service").
    Elsewhere (Cyrillic, Greek, ...) case endings of one or two letters, against names and stems.
    """
    exact, stem, _ = gazetteer()
    hit = exact.get(folded)
    if hit is not None or len(folded) < MIN_CHARS + 1:
        return hit
    if folded.isascii():
        base = folded[:-1] if folded[-1] == "s" else folded       # "Portugals", "Syrians"
        if base[-2:] == "an" and base[-3:-2] in ("i", "a"):
            base = base[:-1]                                        # "Russian", "Indonesian", "Syrian"
        return exact.get(base) if base != folded else None
    cut = folded[:-1]
    hit = exact.get(cut) or stem.get(cut)
    if hit is None and len(folded) > MIN_CHARS + 2 and folded[-1] in _VOWELS:
        hit = stem.get(folded[:-2])              # two-letter case endings: "Іспанією"
    return hit


def places(words: list[str]) -> list[tuple[int, int, str]]:
    """(first word, words used, place) of each place named in a sequence of folded words."""
    exact, _, firsts = gazetteer()
    out: list[tuple[int, int, str]] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word in firsts:
            for n in range(MAX_WORDS, 1, -1):
                hit = exact.get(" ".join(words[i:i + n])) if i + n <= len(words) else None
                if hit is not None:
                    out.append((i, n, hit))
                    i += n
                    break
            else:
                hit = place_of(word)
                if hit is not None:
                    out.append((i, 1, hit))
                i += 1
            continue
        hit = place_of(word)
        if hit is not None:
            out.append((i, 1, hit))
        i += 1
    return out
