"""Related coverage of one event: the terms that survive a rewrite, and how much two articles share.

Owns the event terms of an article (taken from its title and lead: names and other
capitalised words, numbers, quoted phrases, title words), their stable 64-bit hashes, the
document frequencies of terms over the story window (a fixed hashed counter table) and the
rarity-weighted similarity of two term sets (rarity in the window and, for words, in general
language: `stories.rarity`). When outlets write their own version of an
event, the wording changes but these mostly do not: "Rutte", "The Hague", "3.5", "2035",
a quoted sentence. Must not do I/O (but `stories.rarity` reads, and once writes, its cached
word table) or hold articles: `stories.index` keeps the term sets
of the window and asks this module for weights and scores.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from monitor.stories import rarity
from monitor.stories.buckets import Buckets
from monitor.stories.places import MARKS, WORD, place_of, places
from monitor.stories.places import fold as _fold

LEAD_CHARS = 2500           # title + this much text: where the event is told
MAX_TERMS = 64              # per article: bounds memory and the candidate search
QUOTE_WORDS = 4             # a quoted passage of at least this many words yields quote trigrams
MAX_DF = 64                 # a term in more window articles than this proposes no candidates
# ... nor does a term in more than this share of them, and it weighs nothing: in a small window
# (the first hour after a start, a quiet night) "IDF" alone leaves a capital named in every
# fourth article looking rare, and articles about different events then chain into one story
# through their datelines (seen on the feed farm with one host per outlet: 49 stories of 50
# articles folded into 3). An event's own terms are in a few outlets' articles, not in a
# tenth of the window. COMMON_FLOOR keeps a brand-new window from calling everything common.
COMMON_SHARE = 0.05
COMMON_FLOOR = 4
# Below this many articles in the window, the window cannot tell a rare term from a common one
# (the first minutes of a new installation; the two files of `monitor stories a b`): there a
# weak pair must share a number, a quote or a rare name (`RARE_NAME`), and without general
# word frequencies (wordfreq missing) a related join needs STRONG_SHARED figures or quotes.
MIN_WINDOW_DOCS = 50
HEADLINE_WORDS = 3          # a line of at least this many words of four letters or more ...
HEADLINE_SHARE = 0.75       # ... this share of them capitalised is written in headline case
HEADLINE_CHARS = 240        # (longer lines are paragraphs)
MAX_CANDIDATES = 16         # scored per article: those sharing the most rare terms
TABLE_BITS = 20             # document-frequency counters: 2**20 int32 (4 MiB) for the whole window
PRIOR_DOCS = 50.0           # smoothing: a term seen once in a nearly empty window is not "rare" yet
DAMP_TERMS = 3.0            # a side with fewer terms than this scores proportionally less
# Two reports of one event nearly always share distinctive figures (a toll, a vote count, a
# magnitude, a sum: not years or small counts) or a quoted phrase; two events on one topic share
# names and words. Without two shared distinctive figures or quotes a pair scores half ...
STRONG_SHARED = 2
# one shared term is never an event, however rare it looks (a fresh window's only title word)
MIN_SHARED = 2
WEAK_FACTOR = 0.5
# ... and when both sides give distinctive figures but share none, they report another event
# (another quake in the same region, another vote in the same parliament): 0.4 of that again
CONTRADICTION_FACTOR = 0.4
# In a small window (`MIN_WINDOW_DOCS`: two files given to `monitor stories`), where the window cannot
# yet say which names are the event's, two contradictions tell one cast's different events apart: each
# side names at least NAME_CONTRADICTION names rare in general language (`RARE_NAME`, no place) that the
# other lacks, and they share none (two attempts on one candidate, each with its own suspect and place);
# each side gives a distinctive figure and they share none (the Pope's death and his successor's
# election). Each costs this factor; a full window decides without them.
NAME_CONTRADICTION = 3
SMALL_CONTRADICTION_FACTOR = 0.5

_TOKEN = re.compile(rf"[\w{MARKS}]+(?:[.,]\d+)*%?")
# a curly apostrophe inside a word ("you’ll", "Trump’s") is no quotation mark
_APOSTROPHE = re.compile(r"(?<=\w)[’‘](?=\w)")
_QUOTE = re.compile(r"[\"“”„«»‘’‚‹›]([^\"“”„«»‹›\n]{12,400})[\"“”„«»‹›]")
_SENTENCE_END = set(".!?:;\n\"“”«»")
# capitalised words that say nothing about which event it is, in the languages we see most
_STOP = frozenset("""
a an the and or but if of in on at to for from by with as is are was were be been it its this that these those
he she they we you i his her their our my your not no yes also after before over under into about than then
there here when where who what which while said says say told according would could should will can may
mr mrs ms dr
der die das den dem des ein eine einer und oder aber im in am an auf aus bei mit nach von vor zu zum zur ist sind
war es sie er wir ich nicht auch als wie dass für über unter
le la les un une des du de et ou mais dans sur sous avec pour par est sont été il elle ils elles nous vous
ce cette ces qui que quoi au aux
el los las unos unas y o pero en con por para es son fue ha lo al del se su sus
il lo gli uno una e o ma di da con per è sono
monday tuesday wednesday thursday friday saturday sunday
montag dienstag mittwoch donnerstag freitag samstag sonntag sonnabend
lundi mardi mercredi jeudi vendredi samedi dimanche
lunes martes miercoles jueves viernes sabado domingo
lunedi martedi mercoledi giovedi venerdi sabato domenica
segunda terca quarta quinta sexta
president prime minister ministers secretary general government national assembly party ministry
council state states united people city country news reuters afp dpa photo image video read more
""".split())
# A word weighs by its rarity in the window and by its rarity in general language
# (`stories.rarity`, from wordfreq's lists): a small window (two files given to `monitor stories`,
# the first minutes of a new installation) cannot tell "Trump" from "Crooks", the lists can. The
# general weight is a prior: it counts as PRIOR_DOCS articles, so with the window's own articles
# it fades (a full share in a window of 2, a fifth in one of 200).
# There, a pair without STRONG_SHARED figures or quotes must share something besides places and
# common words: a number, a quote, or a name at least this rare in general language (countries
# and capitals are named in every article of a dateline-heavy window: no evidence of the event)
RARE_NAME = 0.7
# a shared figure ("364", "7.7", "2035") says more than a shared name, in every language
KIND_WEIGHT = np.array([1.0, 2.0, 1.0, 2.0])            # by kind: word, number, quote, distinctive number
_KIND_BITS = np.uint64(3)


@dataclass(frozen=True)
class EventTerms:
    """An article's event terms: sorted unique hashes, and the readable term of each hash."""

    hashes: np.ndarray                  # uint64, sorted, unique, at most MAX_TERMS
    labels: dict[int, str]              # hash -> "Rutte", "3.5", "“we all have to chip in”"
    # each hash's `general_weights` in 255ths (uint8), when computed where the terms were (a worker:
    # `with_general`), so the index's process does not search the word table for them; None: not yet
    general: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.hashes)

    def __reduce__(self) -> tuple:
        # a worker sends one per article: the hashes as bytes pickle in half the time of an array
        general = None if self.general is None else self.general.tobytes()
        return _event_terms, (self.hashes.astype("<u8").tobytes(), self.labels, general)

    def with_general(self) -> EventTerms:
        """These terms with their general-language weights (`general_255`) computed and kept."""
        return self if self.general is not None else EventTerms(self.hashes, self.labels, general_255(self.hashes))


def _event_terms(hashes: bytes, labels: dict[int, str], general: bytes | None = None) -> EventTerms:
    """An `EventTerms` from its pickled form (`EventTerms.__reduce__`)."""
    return EventTerms(np.frombuffer(hashes, dtype="<u8").astype(np.uint64), labels,
                      None if general is None else np.frombuffer(general, dtype=np.uint8))


@lru_cache(maxsize=1 << 14)
def _number(token: str) -> str | None:
    """A number as written in any of our languages: "1,500" and "1.500" -> 1500, "3,5" -> 3.5; else None."""
    if not any(c.isdigit() for c in token):
        return None
    pct = token.endswith("%")
    body = token.rstrip("%")            # "3.5%" and "3,5 Prozent" are the same figure
    if not body[:1].isdigit() or any(c.isalpha() for c in body):
        return None                    # "G7", "F-35" stay words
    groups = re.split(r"[.,]", body)
    if len(groups) == 3 and len(groups[2]) == 4 and groups[2][:2] in ("19", "20") and not pct \
            and 1 <= len(groups[0]) <= 2 and 1 <= len(groups[1]) <= 2:
        return groups[2]               # a date, "28.04.2025": its year, not the figure 28042025
    if len(groups) > 1 and all(len(g) == 3 for g in groups[1:]):
        body = "".join(groups)         # thousands separators
    elif len(groups) == 2:
        body = f"{groups[0]}.{groups[1]}"
    else:
        body = "".join(groups)
    body = body.lstrip("0") or "0"
    if len(body) < 2 and not pct:
        return None                    # single digits are everywhere
    return body


_KIND = {"w": 0, "n": 1, "q": 2, "f": 3}


def _distinctive(number: str) -> bool:
    """A figure that names an event ("364", "7.7", "1400"), not a year, a count of ten or a date."""
    if "." in number:
        return True
    return len(number) >= 3 and not (len(number) == 4 and number[:2] in ("19", "20"))


@lru_cache(maxsize=1 << 16)
def _hash(term: str) -> int:
    """A stable 64-bit hash whose two low bits say the term's kind (word, number, quote)."""
    h = int.from_bytes(hashlib.blake2b(term.encode(), digest_size=8).digest(), "little")
    return (h & ~3) | _KIND[term[0]]


def _quote_terms(lead: str) -> list[tuple[str, str]]:
    """Word trigrams of quoted passages: a quoted sentence is often verbatim across outlets."""
    out: list[tuple[str, str]] = []
    if "’" in lead or "‘" in lead:
        lead = _APOSTROPHE.sub("'", lead)
    for m in _QUOTE.finditer(lead):
        words = [_fold(w) for w in WORD.findall(m.group(1))]
        if len(words) >= QUOTE_WORDS:
            out.extend(("q:" + " ".join(words[i:i + 3]), f"“{' '.join(words[i:i + 3])}”")
                       for i in range(len(words) - 2))
        if len(out) >= MAX_TERMS // 4:
            break
    return out[:MAX_TERMS // 4]


# a capitalised token and a number token, as `_TOKEN` splits them, found directly (the other
# words of a text are never looked at one by one: that loop was most of the level's cost)
_UPPER = "".join(re.escape(c) for c in map(chr, range(0x10000)) if c.isupper())
# (the lookbehind after the first character: the regex engine then skips straight to candidates)
_CAP_TOKEN = re.compile(r"[" + _UPPER + r"](?<!\w.)\w*(?:[.,]\d+)*%?")
_NUMBER_TOKEN = re.compile(r"\d(?<![\w.,].)\w*(?:[.,]\d+)*%?")


# where a sentence's first word starts: after the text's start, a line break, or .!?:; and a
# space, past any quotes, dashes and spaces
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s|\n)\W*")


_LINE = re.compile(r"[^\n]+")
_LONG_WORD = re.compile(r"(?<!\w)[^\W\d_]{4,}")
_LONG_CAP = re.compile(r"[" + _UPPER + r"](?<!\w.)[^\W\d_]{3,}")


def _headline_lines(lead: str) -> list[tuple[int, int]]:
    """Where the lines written in headline case are (most words capitalised: "Also read" lists
    of other stories, captions, menus): a capitalised word there is no sign of a name."""
    out = []
    for m in _LINE.finditer(lead):
        line = m.group()
        if len(line) > HEADLINE_CHARS:          # a paragraph, not a headline
            continue
        words = len(_LONG_WORD.findall(line))
        if words >= HEADLINE_WORDS and len(_LONG_CAP.findall(line)) >= HEADLINE_SHARE * words:
            out.append(m.span())
    return out


def _scan(lead: str) -> tuple[list[str], list[tuple[int, int]], list[str], set[str]]:
    """Capitalised tokens and where they are, number tokens, and the words written capitalised
    inside a sentence."""
    starts = {m.end() for m in _SENTENCE_START.finditer(lead)}
    starts |= _german_nouns(lead, starts)
    headlines = _headline_lines(lead)
    caps: list[str] = []
    spans: list[tuple[int, int]] = []
    inside: set[str] = set()
    for m in _CAP_TOKEN.finditer(lead):
        word = m.group()
        caps.append(word)
        spans.append(m.span())
        if len(word) > 1 and m.start() not in starts and not any(a <= m.start() < b for a, b in headlines):
            inside.add(word)
    return caps, spans, _NUMBER_TOKEN.findall(lead), inside


# a share written as words ("fünf Prozent", "five per cent", "cinq pour cent") is the figure
# "5%" is elsewhere: the number before a percent word counts as a percentage
_NUMBER_WORDS = {w: str(n) for n, ws in enumerate((
    "", "one eins un une uno una um", "two zwei deux dos due dois", "three drei trois tres tre tres",
    "four vier quatre cuatro quattro quatro", "five fünf fuenf cinq cinco cinque",
    "six sechs seis sei", "seven sieben sept siete sette sete", "eight acht huit ocho otto oito",
    "nine neun neuf nueve nove", "ten zehn dix diez dieci dez"), start=0) for w in ws.split()}
_PERCENT = re.compile(r"(?:p(?<!\w.)(?:er\s?cent|ercent|rozent|our\s?cent|or\s?ciento|or\s?cento|er\s?cento|rocent|ct)"
                      r"|y(?<!\w.)üzde\s+(\d+(?:[.,]\d+)?))(?!\w)")       # on the lower-cased lead
_BEFORE = re.compile(r"(\w+(?:[.,]\d+)?)\s*$")
# German writes every noun capitalised: there, a capitalised word right after an article, a
# preposition or a number is a noun ("die Verteidigungsausgaben", "auf Einigung"), not a name
# (a capitalised article only at a sentence's start: "in Den Haag" keeps "Haag")
_GERMAN = tuple(f" {w} " for w in "der die das und nicht mit den dem des ist sich auf für wird werden eine".split())
_GERMAN_NOUN = re.compile(
    r"(?<!\w)(?:(der|die|das|den|dem|des|ein|eine|einen|einem|einer|eines|im|am|vom|zum|zur|beim|ins|"
    r"für|mit|von|auf|aus|bei|nach|vor|über|unter|gegen|ohne|um|durch|kein|keine|keinen|\d+)|"
    r"(?:Der|Die|Das|Den|Dem|Des|Ein|Eine|Einen|Einem|Einer|Eines|Im|Am|Vom|Zum|Zur|Beim|Für|Mit|Von|Auf|Aus|Bei))"
    r"\s+(?=[A-ZÄÖÜ])")


def _percentages(lead: str) -> list[str]:
    """Shares written with a percent word ("fünf Prozent", "3,5 per cent", "yüzde 99") as "5%"."""
    out = []
    for m in _PERCENT.finditer(lead.lower()):
        value = m.group(1)
        if value is None:
            before = _BEFORE.search(lead, max(0, m.start() - 24), m.start())
            value = before.group(1) if before else None
        if value is not None:
            value = _NUMBER_WORDS.get(value.lower(), value)
            if value[:1].isdigit():
                out.append(value + "%")
    return out


def _german_nouns(lead: str, starts: set[int]) -> set[int]:
    """Where nouns start in a German lead (empty for other languages); `starts`, where sentences
    start: a capitalised article counts there only ("Die Staaten", not "in Den Haag")."""
    if sum(map(lead.count, _GERMAN)) < 4:
        return set()
    found = {m.end() for m in _GERMAN_NOUN.finditer(lead) if m.group(1) is not None or m.start() in starts}
    found.update(m.start() for m in _GERMAN_SUFFIX_NOUN.finditer(lead))
    return found


# ... and so is a capitalised word with the ending of a German noun ("Einigung", "Nachrichtenagenturen",
# "Mannschaft", "Ergebnisse"): names seldom end so
_GERMAN_SUFFIX_NOUN = re.compile(
    r"(?<!\w)[A-ZÄÖÜ]\w*(?:ung|ungen|heit|heiten|keit|keiten|schaft|schaften|tion|tionen|tät|täten|nis|nisse"
    r"|ismus|ment|mente|menten|ium|ien|uren)(?!\w)")


_CYRILLIC_ENDING = re.compile(r"(?<=[бвгґджзйклмнпрстфхцчшщ])[аяоеиіїуюєыьй]{1,2}$")


def _name_key(folded: str) -> str:
    """A name without the ending its sentence gave it, the same way on every side: "Stoltenbergs"
    and "Stoltenberg"; "України", "Україна" and "Україну"."""
    if len(folded) >= 6 and folded[-1] == "s" and folded.isascii():
        return folded[:-1]
    cut = _CYRILLIC_ENDING.sub("", folded)
    return cut if len(cut) >= 4 else folded


# words in scripts without capitals (Arabic, Hebrew, the Indic scripts, Thai, Myanmar): there any
# word can be a place name
_UNCASED_WORD = re.compile(f"[\u0590-\u08ff\u0900-\u0dff\u0e00-\u0eff\u1000-\u109f][\\w{MARKS}]*")


def _place_terms(lead: str, caps: list[str], spans: list[tuple[int, int]]) -> tuple[list[tuple[str, str]], set[str]]:
    """Countries and large cities in any of our languages as one term each ("w:@ES" for "Spain",
    "Spanien", "España"), and the folded words that named them. In a cased script only the
    capitalised words are looked up (`caps`, at `spans`), consecutive ones together for names
    of several words ("Costa Rica"); in the others every word is."""
    runs: list[list[str]] = []
    for i, word in enumerate(caps):
        if i and spans[i][0] == spans[i - 1][1] + 1 and lead[spans[i - 1][1]] == " ":
            runs[-1].append(word)
        else:
            runs.append([word])
    if _UNCASED_WORD.search(lead):
        runs.append(_UNCASED_WORD.findall(lead))
    found: list[tuple[str, str]] = []
    used: set[str] = set()
    for run in runs:
        if len(run) == 1:                       # most capitalised words stand alone
            place = place_of(_fold(run[0]))
            if place is not None:
                found.append(("w:@" + place, run[0]))
                used.add(_fold(run[0]))
            continue
        for start, n, place in places([_fold(w) for w in run]):
            found.append(("w:@" + place, " ".join(run[start:start + n])))
            if n == 1:
                used.add(_fold(run[start]))
    return found, used


def event_terms(title: str, text: str) -> EventTerms:
    """The terms that identify the event an article reports (see the module docstring)."""
    lead = f"{title}\n{text[:LEAD_CHARS]}"
    caps, spans, numbers, inside = _scan(lead)
    names = {_fold(w) for w in inside}
    found = _quote_terms(lead)
    found += [(("f:" if _distinctive(n) else "n:") + n, n)
              for n in map(_number, numbers + _percentages(lead)) if n is not None]
    place_terms, place_words = _place_terms(lead, caps, spans)
    found += place_terms
    title_words = [w for w in _TOKEN.findall(title) if len(w) > 3 and not w[0].isdigit()]
    for word in [*title_words, *caps]:
        folded = _fold(word)
        if folded in _STOP or len(folded) < 2 or folded in place_words:
            continue
        if folded in names or word in title_words:
            found.append(("w:" + _name_key(folded), word))
    labels: dict[str, str] = {}         # term key -> label, first occurrence first
    for key, label in found:
        if len(labels) >= MAX_TERMS:
            break
        labels.setdefault(key, label)
    by_hash = {_hash(k): v for k, v in labels.items()}
    return EventTerms(np.array(sorted(by_hash), dtype=np.uint64), by_hash)


def _word_hash(word: str) -> int:
    """The hash `event_terms` gives a name or title word (for `stories.rarity`'s table): the same
    fold and hash, bypassing their caches (the table's 200,000 words would only evict the window's)."""
    return _hash.__wrapped__("w:" + _name_key(_fold.__wrapped__(word)))


@lru_cache(maxsize=1)
def _place_hashes() -> np.ndarray:
    """The hash of every place term ("w:@ES"), sorted."""
    from monitor.stories.places import gazetteer
    return np.array(sorted({_hash("w:@" + p) for p in gazetteer()[0].values()}), dtype=np.uint64)


def general_weights(hashes: np.ndarray) -> np.ndarray:
    """How much each term can tell events apart by how common it is in general language
    (`stories.rarity`): 1.0 for rare words, numbers, quotes and places. In 255ths, as the
    window's cells keep them (`TermFrequencies.general`)."""
    return np.round(rarity.weights_of(hashes, _word_hash) * 255.0) / 255.0


def general_255(hashes: np.ndarray) -> np.ndarray:
    """`general_weights` in 255ths (uint8), as the window's cells keep them: k / 255.0 is the very
    float `general_weights` gives."""
    return np.round(general_weights(hashes) * 255.0).astype(np.uint8)


def _rare_names(hashes: np.ndarray, general: np.ndarray) -> np.ndarray:
    """Which terms are names rare in general language (`RARE_NAME`) and no place."""
    return ((hashes & _KIND_BITS) == _KIND["w"]) & (general >= RARE_NAME) & ~np.isin(hashes, _place_hashes())


def beyond_places(shared: np.ndarray, general: np.ndarray | None = None) -> np.ndarray:
    """Which shared terms say more than where and in what common words: numbers, quotes, and
    names rare in general language (`RARE_NAME`; `general`: their `general_weights`) that are
    no place."""
    general = general_weights(shared) if general is None else general
    return ((shared & _KIND_BITS) != _KIND["w"]) | _rare_names(shared, general)


def general_known() -> bool:
    """Whether word frequencies of general language are at hand (wordfreq installed)."""
    return len(rarity.table(_word_hash)[0]) > 0


class TermFrequencies:
    """How many articles in the window carry each term: a fixed table of hashed counters.

    Two terms that share a counter both look more common than they are, which only lowers
    their weight: the similarity errs towards "not related". Memory is fixed (4 MiB), not
    per article.
    """

    def __init__(self, bits: int = TABLE_BITS):
        self._mask = np.uint64((1 << bits) - 1)
        self._bits = bits
        self._counts = np.zeros(0, dtype=np.int32)      # allocated at the first add
        # each cell's general-language weight (`general_weights`, in 255ths), written by the last
        # term added there: one gather per lookup instead of a search of the word table
        self._general = np.zeros(0, dtype=np.uint8)
        self.docs = 0

    def _cells(self, hashes: np.ndarray) -> np.ndarray:
        return (hashes & self._mask).astype(np.int64)

    def add(self, hashes: np.ndarray, general: np.ndarray | None = None) -> None:
        """Count an article's terms; `general`: their `general_255`, when computed already."""
        if not len(self._counts):
            self._counts = np.zeros(1 << self._bits, dtype=np.int32)
            self._general = np.full(1 << self._bits, 255, dtype=np.uint8)
        cells = self._cells(hashes)
        np.add.at(self._counts, cells, 1)
        self._general[cells] = general_255(hashes) if general is None else general
        self.docs += 1

    def remove(self, hashes: np.ndarray) -> None:
        np.subtract.at(self._counts, self._cells(hashes), 1)
        self.docs -= 1

    def counts(self, hashes: np.ndarray) -> np.ndarray:
        if not len(self._counts):
            return np.zeros(len(hashes), dtype=np.int32)
        return self._counts[self._cells(hashes)]

    def common(self) -> float:
        """How many window articles make a term too common to tell events apart."""
        return max(COMMON_FLOOR, COMMON_SHARE * self.docs)

    def general(self, hashes: np.ndarray) -> np.ndarray:
        """`general_weights` of terms held in the window, as their cells remember them (two terms
        sharing a cell share its last writer's weight, as they share its count)."""
        if not len(self._general):
            return general_weights(hashes)
        return self._general[self._cells(hashes)] / 255.0

    def weights(self, hashes: np.ndarray, general: np.ndarray | None = None) -> np.ndarray:
        """Inverse document frequency, smoothed so a nearly empty window weighs terms evenly,
        times the general-language weight as a prior (`general`: the terms' `general_weights`
        when they are not in the window yet; else read from their cells); nothing for a term
        more common than `common()`."""
        df = self.counts(hashes).astype(np.float64)
        idf = np.log((self.docs + PRIOR_DOCS) / (df + 1.0)) * KIND_WEIGHT[(hashes & _KIND_BITS).astype(np.int64)]
        # general language is the prior, the window the evidence: its share fades as the window fills
        share = PRIOR_DOCS / (self.docs + PRIOR_DOCS)
        idf *= 1.0 - (1.0 - (self.general(hashes) if general is None else general)) * share
        return np.where(df > self.common(), 0.0, idf)


def _count(hashes: np.ndarray, kind: str) -> int:
    return int(np.count_nonzero((hashes & _KIND_BITS) == _KIND[kind]))


def _figures(hashes: np.ndarray) -> int:
    return _count(hashes, "f")


def _small_window_factor(new: np.ndarray, old: np.ndarray, shared: np.ndarray, old_general: np.ndarray) -> float:
    """`SMALL_CONTRADICTION_FACTOR` once for each contradiction between two articles of a small
    window (rare names on both sides the other lacks, none shared; distinctive figures on both
    sides, none shared), else 1."""
    factor = 1.0
    new_rare = int(np.count_nonzero(_rare_names(new, general_weights(new))))
    rare_old = _rare_names(old, old_general)
    old_rare = int(np.count_nonzero(rare_old))
    shared_rare = int(np.count_nonzero(rare_old & np.isin(old, shared)))
    if not shared_rare and min(new_rare, old_rare) >= NAME_CONTRADICTION:
        factor *= SMALL_CONTRADICTION_FACTOR
    if min(_figures(new), _figures(old)) >= 1 and not _figures(shared):
        factor *= SMALL_CONTRADICTION_FACTOR
    return factor


def similarity(new: np.ndarray, new_weights: np.ndarray, old: np.ndarray,
               freq: TermFrequencies) -> tuple[float, np.ndarray]:
    """Rarity-weighted overlap of two term sets, and the shared hashes.

    The shared weight over the geometric mean of both sides' weights (a weighted cosine of
    binary vectors), damped by how many terms the smaller side has, so a two-term brief does
    not match everything sharing a name:
    score = shared / sqrt(total_new * total_old) * min(1, smaller_count / DAMP_TERMS), weights
    by rarity in the window and by kind (`KIND_WEIGHT`), halved when fewer than
    `STRONG_SHARED` of the shared terms are figures or quotes; 0 when fewer than `MIN_SHARED`
    shared terms weigh anything (a term common in the window is no evidence). In a small window
    (`MIN_WINDOW_DOCS`) also halved for each contradiction of `_small_window_factor`.
    """
    shared = np.intersect1d(new, old, assume_unique=True)
    shared_weights = freq.weights(shared)
    if np.count_nonzero(shared_weights) < MIN_SHARED:      # a term common in the window is no evidence
        return 0.0, shared
    w_shared = float(shared_weights.sum())
    w_new = float(new_weights.sum())
    w_old = float(freq.weights(old).sum())
    damp = min(1.0, min(len(new), len(old)) / DAMP_TERMS)
    denom = math.sqrt(w_new * w_old)
    if denom <= 0 or not math.isfinite(denom):
        return 0.0, shared
    kinds = shared & _KIND_BITS
    strong = int(np.count_nonzero((kinds == _KIND["q"]) | (kinds == _KIND["f"])))  # figures, quotes
    if strong < STRONG_SHARED:
        if freq.docs < MIN_WINDOW_DOCS:         # rarity in the window unknown yet
            if not general_known():             # ... and in general language too: only strong pairs
                return 0.0, shared
            if not np.any(beyond_places(shared[shared_weights > 0])):
                return 0.0, shared
        damp *= WEAK_FACTOR
        if not strong and min(_figures(new), _figures(old)) >= STRONG_SHARED:
            damp *= CONTRADICTION_FACTOR     # both give figures, none the same: another event
    if freq.docs < MIN_WINDOW_DOCS and general_known():
        damp *= _small_window_factor(new, old, shared, freq.general(old))
    return min(1.0, w_shared / denom) * damp, shared


class TermIndex:
    """The event terms of every article in the story window, by slot, with their frequencies.

    An inverted index (term hash -> slots, `Buckets` without bands) over all terms; a query
    looks up only the terms that are rare in the window (at most `MAX_DF` articles), keeps
    the `MAX_CANDIDATES` slots sharing the most of them, and scores those with `similarity`.
    About 20 bytes per term of an article (8 for its hash, 12 for its posting).
    """

    def __init__(self) -> None:
        self.freq = TermFrequencies()
        self._postings = Buckets(1, 1)
        self._terms: list[bytes | None] = []

    def add(self, slot: int, hashes: np.ndarray, general: np.ndarray | None = None) -> None:
        """Index a slot's terms; `general`: their `general_255`, when computed already."""
        while len(self._terms) <= slot:
            self._terms.append(None)
        if self._terms[slot] is not None:
            self.remove(slot)
        if not len(hashes):
            return
        self._terms[slot] = hashes.astype("<u8").tobytes()
        self._postings.insert(slot, hashes)
        self.freq.add(hashes, general)

    def remove(self, slot: int) -> None:
        held = self._terms[slot] if slot < len(self._terms) else None
        if held is None:
            return
        hashes = self.terms(slot)
        self._postings.remove(slot, hashes)
        self.freq.remove(hashes)
        self._terms[slot] = None

    def terms(self, slot: int) -> np.ndarray:
        held = self._terms[slot] if slot < len(self._terms) else None
        return np.frombuffer(held, dtype="<u8").astype(np.uint64) if held else np.empty(0, dtype=np.uint64)

    def best(self, hashes: np.ndarray, eligible, general: np.ndarray | None = None) -> tuple[float, int] | None:
        """The most similar eligible slot: (score, slot), or None (the index reads the shared terms
        of the one it joins: `StoryIndex._shared`).

        `eligible(slots)` returns a boolean mask (the caller's window and identity checks);
        `general`: the query's `general_255`, when computed already.
        """
        if not len(hashes):
            return None
        rare = hashes[self.freq.counts(hashes) <= min(MAX_DF, self.freq.common())]
        if not len(rare):
            return None
        slots, counts = self._postings.query_counts(rare)
        if not len(slots):
            return None
        keep = eligible(slots)
        slots, counts = slots[keep], counts[keep]
        if not len(slots):
            return None
        if len(slots) > MAX_CANDIDATES:
            top = np.argsort(-counts, kind="stable")[:MAX_CANDIDATES]
            slots = slots[top]
        scores = self.scores(hashes, slots, general)
        best = int(np.argmax(scores))
        return float(scores[best]), int(slots[best])

    def scores(self, hashes: np.ndarray, slots: np.ndarray, general: np.ndarray | None = None) -> np.ndarray:
        """`similarity(hashes, ., terms(slot))` for every slot at once: a fixed number of array
        operations for all candidates, not a handful per candidate."""
        held = [self.terms(s) for s in slots.tolist()]
        lens = np.array([len(h) for h in held], dtype=np.int64)
        k = len(held)
        if not k:
            return np.zeros(0)
        every = np.concatenate(held)
        owner = np.repeat(np.arange(k), lens)
        weights = self.freq.weights(every)
        at = np.minimum(np.searchsorted(hashes, every), len(hashes) - 1)
        shared = hashes[at] == every                    # `hashes` is sorted and unique
        kinds = (every & _KIND_BITS).astype(np.int64)
        w_shared = np.bincount(owner, weights * shared, minlength=k)
        w_old = np.bincount(owner, weights, minlength=k)
        strong = np.bincount(owner, shared & ((kinds == _KIND["q"]) | (kinds == _KIND["f"])), minlength=k)
        figures_old = np.bincount(owner, kinds == _KIND["f"], minlength=k)
        new_general = general_weights(hashes) if general is None else general / 255.0
        w_new = float(self.freq.weights(hashes, new_general).sum())
        damp = np.minimum(1.0, np.minimum(len(hashes), lens) / DAMP_TERMS)
        weak = strong < STRONG_SHARED
        if self.freq.docs < MIN_WINDOW_DOCS:          # rarity in the window unknown yet (`similarity`)
            if general_known():
                beyond = np.bincount(owner, shared & (weights > 0) & beyond_places(every, self.freq.general(every)),
                                     minlength=k)
                damp = damp * ~(weak & (beyond == 0))
            else:
                damp = damp * ~weak
        contradicted = weak & (strong == 0) & (np.minimum(_figures(hashes), figures_old) >= STRONG_SHARED)
        damp = damp * np.where(weak, WEAK_FACTOR, 1.0) * np.where(contradicted, CONTRADICTION_FACTOR, 1.0)
        if self.freq.docs < MIN_WINDOW_DOCS and general_known():     # `_small_window_factor`
            rare_every = _rare_names(every, self.freq.general(every))
            rare_new = int(np.count_nonzero(_rare_names(hashes, new_general)))
            rare_old = np.bincount(owner, rare_every, minlength=k)
            rare_shared = np.bincount(owner, rare_every & shared, minlength=k)
            names = (rare_shared == 0) & (np.minimum(rare_new, rare_old) >= NAME_CONTRADICTION)
            figures_shared = np.bincount(owner, shared & (kinds == _KIND["f"]), minlength=k)
            figures = (np.minimum(_figures(hashes), figures_old) >= 1) & (figures_shared == 0)
            damp = damp * np.where(names, SMALL_CONTRADICTION_FACTOR, 1.0) \
                * np.where(figures, SMALL_CONTRADICTION_FACTOR, 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            denom = np.sqrt(w_new * w_old)
            score = np.minimum(1.0, w_shared / denom) * damp
        evidence = np.bincount(owner, shared & (weights > 0), minlength=k)   # common terms are none
        ok = (denom > 0) & np.isfinite(denom) & (evidence >= MIN_SHARED)
        return np.where(ok, score, 0.0)
