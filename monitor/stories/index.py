"""The story index: which earlier article, if any, carries the same story as a new one.

Owns the in-memory LSH over recent articles' signatures (a sliding time window), the
exact-fingerprint shortcut, and the rule that an article joins the story of its most
similar earlier article. Rebuilt at start from the signatures the store keeps
(`Store.story_signatures`), so nothing is re-hashed. Must not do I/O: the pipeline
loads rows into it and saves what `assign` returns.

Keys are canonical article URLs (known before the article has a database id); a story
is keyed by the URL of its first article, which the store turns into articles.story_id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from monitor.stories.buckets import Buckets
from monitor.stories.dedupe import (
    NUM_PERM,
    shingle_hashes,
    signature_values,
    site_of,
    sketch,
    values_bytes,
    words,
    words_fingerprint,
)
from monitor.stories.related import EventTerms, TermIndex, event_terms

if TYPE_CHECKING:
    from datasketch import MinHash

# Below this many words the text (a feed summary, a stub) says too little on its own,
# so the title is hashed with it.
MIN_TEXT_WORDS = 30
# Estimated Jaccard of word 4-gram sets at or above which two articles carry one story.
# A wire copy with a new lead, a dropped paragraph and its own boilerplate measures about
# 0.5; unrelated stories, even on one topic in one trade vocabulary, stay below 0.1
# (see docs/dedupe.md for the measured distributions).
DEFAULT_THRESHOLD = 0.4
# Short texts (feed summaries, briefs) are mostly shared boilerplate ("The post ... appeared
# first on ...", a newsletter footer) by proportion, so they must be near-identical to match.
SHORT_SHINGLES = 60
SHORT_THRESHOLD = 0.8
# A publisher's date later than the time monitor first saw the article by more than this
# is a wrong clock (time-zone slip, scheduled post, "2030" typo), not a publication time.
DEFAULT_DATE_SKEW_MINUTES = 15.0
# Rarity-weighted share of event terms (names, figures, quotes, title words) at or above which
# an article that is no copy is related coverage of an earlier one's event (`stories.related`;
# the trade-off measured on real coverage is in docs/dedupe.md). 0 switches the level off.
DEFAULT_RELATED_THRESHOLD = 0.065
COPY, RELATED, FIRST = "copy", "related", "first"


@dataclass(frozen=True)
class StoryAssignment:
    """Where `StoryIndex.assign` put an article, and what the store must keep of it."""

    article_key: str
    story_key: str                  # key of the story's first article (== article_key when new)
    is_new_story: bool
    similar_to: tuple[str, ...]     # earlier articles it matched, most similar first
    similarity: float               # estimated Jaccard with the best match; 0.0 for a new story
    fingerprint: str                # normalised exact text hash (articles.content_hash)
    signature: bytes                # signature values (`dedupe.sketch`), for Store.save_story_signatures
    published: datetime             # the time the story window measures (see `window_time`)
    seen: datetime                  # when monitor first saw the article
    level: str = FIRST              # "first" of its story, a near-"copy", or "related" coverage
    shared: tuple[str, ...] = ()    # event terms it shares with the article it joined
    terms: bytes = b""              # its event-term hashes, for Store.save_story_signatures
    bands: tuple[int, ...] = ()     # its LSH band keys (signed 64-bit), indexed by the PostgreSQL store



@dataclass(frozen=True)
class TextSignature:
    """What the index needs of a text, computable anywhere (a worker): the CPU-heavy part of `assign`."""

    fingerprint: str                # normalised exact text hash
    values: bytes                   # signature values (`dedupe.sketch`, uint32)
    shingles: int                   # how many word shingles were hashed (short texts need more agreement)
    terms: EventTerms | None = None  # the related level's event terms; None: not computed (assign does it)


def text_signature(title: str, text: str, num_perm: int = NUM_PERM, related: bool = True) -> TextSignature:
    """Fingerprint and signature (`dedupe.sketch`) of an article's text (with its title when
    the text is short).

    With `related`, also the event terms of the related level (`stories.related.event_terms`),
    so a worker process does all the per-article hashing and the index only looks up.
    """
    toks = words(text)                  # split once: fingerprint, length and shingles
    fingerprint = words_fingerprint(toks or words(title))
    hashes = shingle_hashes(toks if len(toks) >= MIN_TEXT_WORDS else words(f"{title}\n{text}"))
    # with their general-language weights: looked up here (a worker), not in the index's process
    terms = event_terms(title, text).with_general() if related else None
    return TextSignature(fingerprint, values_bytes(sketch(hashes, num_perm)), len(hashes), terms)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_NEVER = np.iinfo(np.int64).max        # the publication time of an empty slot
_NO_TERMS = np.empty(0, dtype=np.uint64)
_EMPTY_TERMS = EventTerms(_NO_TERMS, {})


@lru_cache(maxsize=16)
def lsh_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """The LSH bands and rows (b, r, b * r <= num_perm) that minimise the false-positive area
    below the threshold plus the false-negative area above it, equally weighted, of the
    curve 1 - (1 - s^r)^b: the choice of datasketch's MinHashLSH (tests/test_stories_lean.py
    checks the two agree), computed here with numpy so that the processes which only look up
    the index (the daemon's main process) never import datasketch and scipy."""
    best, choice = float("inf"), (1, 1)
    below = np.linspace(0.0, threshold, 1001)
    above = np.linspace(threshold, 1.0, 1001)
    rows = np.arange(1, num_perm + 1)[:, None]
    below_r, above_r = below ** rows, above ** rows         # s^r for every r, once
    for b in range(1, num_perm + 1):
        n = num_perm // b
        fp = _area(1 - (1 - below_r[:n]) ** b, below)
        fn = _area((1 - above_r[:n]) ** b, above)
        err = 0.5 * fp + 0.5 * fn
        i = int(np.argmin(err))
        if err[i] < best:
            best, choice = float(err[i]), (b, i + 1)
    return choice


def _area(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The trapezoid rule along the last axis."""
    return ((y[..., 1:] + y[..., :-1]) * 0.5 * np.diff(x)).sum(axis=-1)


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _micros(t: datetime) -> int:
    """Microseconds since the epoch: exact, so window boundaries compare as datetimes do."""
    return (t - _EPOCH) // _US


def window_time(published: datetime | None, seen: datetime, window: timedelta, skew: timedelta) -> datetime:
    """The time an article is windowed by: the publisher's date only when it is plausible.

    Plausible means not after `seen` (when monitor first saw the article) plus `skew`, and
    not before `seen` by more than the story `window`; anything else (no date, a date
    years ahead or back, a re-published archive) is windowed by `seen`. No single
    publisher's clock can then move the window: every time the index holds is at most
    `skew` ahead of a real fetch. The publisher's date itself stays the article's for display.
    """
    seen = _utc(seen)
    if published is None:
        return seen
    published = _utc(published)
    return published if seen - window <= published <= seen + skew else seen


class StoryIndex:
    """Near-duplicate story clustering over a sliding window of recent articles.

    An article joins the story of the most similar indexed article whose estimated
    Jaccard similarity (word 4-gram shingles) is at least `threshold` and which was
    published within `window_hours` of it; exact copies (same normalised text) join
    without a MinHash comparison. Stories are never merged after the fact: a wrong
    merge would hide a story from a reader, a missed one only shows it twice.
    """

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, num_perm: int = NUM_PERM, window_hours: float = 72,
                 date_skew_minutes: float = DEFAULT_DATE_SKEW_MINUTES,
                 related_threshold: float = DEFAULT_RELATED_THRESHOLD):
        self.threshold = threshold
        self.num_perm = num_perm
        self.window = timedelta(hours=window_hours)
        self.skew = timedelta(minutes=date_skew_minutes)
        self.related_threshold = related_threshold
        self._related = TermIndex()
        self._window_us = _micros(_EPOCH + self.window)
        # the bands and rows datasketch's MinHashLSH chooses for this threshold (32 x 4 for 0.4 at 128)
        self._buckets = Buckets(*lsh_bands(threshold, num_perm))
        # one slot per indexed article: its signature values (uint32, `dedupe.sketch`),
        # publication time and keys; freed slots are reused
        self._slot: dict[str, int] = {}
        self._sigs = np.zeros((0, num_perm), dtype=np.uint32)
        self._when = np.zeros(0, dtype=np.int64)
        self._key: list[str | None] = []
        self._story: list[str | None] = []
        self._fingerprint: list[str | None] = []
        # per slot, its article's registrable site as a small number (0: none, or a free slot),
        # so the related level tells another outlet's candidates with one array comparison
        self._site = np.zeros(0, dtype=np.int32)
        self._site_ids: dict[str, int] = {"": 0}
        self._free: list[int] = []
        self._by_fingerprint: dict[str, int] = {}
        self._oldest = _NEVER                            # earliest publication time held
        self._clock: datetime | None = None              # latest publication time seen

    def __len__(self) -> int:
        return len(self._slot)

    def __contains__(self, key: object) -> bool:
        return key in self._slot

    def story_of(self, article_key: str) -> str | None:
        slot = self._slot.get(article_key)
        return self._story[slot] if slot is not None else None

    # -- building ----------------------------------------------------------------
    def add(self, article_key: str, story_key: str, fingerprint: str, sig: bytes | MinHash,
            published: datetime, seen: datetime | None = None, terms: bytes | None = None) -> None:
        """Index an article whose story is already known (from the store, or from `assign`).

        With `seen`, the time indexed is `window_time(published, seen)`, as `assign` decides it.
        """
        when = self.window_time(published, seen) if seen is not None else _utc(published)
        hashes = np.frombuffer(terms, dtype="<u8").astype(np.uint64) if terms else _NO_TERMS
        values = signature_values(sig, self.num_perm)
        self._add(article_key, story_key, fingerprint, values, when, hashes, self._buckets.keys(values),
                  self._site_id(site_of(article_key)))

    def window_time(self, published: datetime | None, seen: datetime) -> datetime:
        """`window_time` with this index's window and skew."""
        return window_time(published, seen, self.window, self.skew)

    def _site_id(self, site: str) -> int:
        known = self._site_ids.get(site)
        if known is None:
            known = self._site_ids[site] = len(self._site_ids)
        return known

    def _add(self, article_key: str, story_key: str, fingerprint: str, values: np.ndarray,
             published: datetime, terms: np.ndarray, bands: np.ndarray, site: int,
             general: np.ndarray | None = None) -> None:
        """Index one article; `bands` are its LSH band keys (`Buckets.keys(values)`), `site` its
        site's number (`_site_id`), `general` its terms' `general_255` when known."""
        if len(values) != self.num_perm:
            raise ValueError(f"expected a signature of {self.num_perm} values, got {len(values)}")
        if article_key in self._slot:
            self._remove(self._slot[article_key])
        slot = self._take_slot()
        us = _micros(published)
        self._sigs[slot] = values
        self._when[slot] = us
        self._key[slot], self._story[slot], self._fingerprint[slot] = article_key, story_key, fingerprint
        self._site[slot] = site
        self._slot[article_key] = slot
        self._by_fingerprint.setdefault(fingerprint, slot)
        self._buckets.insert(slot, bands)
        self._related.add(slot, terms, general)
        self._oldest = min(self._oldest, us)
        if self._clock is None or published > self._clock:
            self._clock = published
        self._evict()

    def load(self, rows: Iterable[Mapping[str, Any]], now: datetime | None = None) -> int:
        """Rebuild from `Store.story_signatures()` rows; returns how many were indexed.

        Each row's time goes through the same plausibility rule as `assign`, against the
        row's `seen` (never later than `now`), so rows stored by an older version with a
        publisher's wrong date cannot move the rebuilt window either.
        """
        n = 0
        for r in rows:
            published = _parse(r["published"])
            if published is None:
                continue
            seen = _parse(r.get("seen")) or published
            if now is not None:
                seen = min(seen, _utc(now))
            self.add(r["article_url"], r["story_url"], r["fingerprint"], r["minhash"], published, seen,
                     r.get("terms"))
            n += 1
        return n

    # -- deciding ----------------------------------------------------------------
    def assign(self, article_key: str, title: str, text: str,
               published: datetime | None = None, seen: datetime | None = None,
               signature: TextSignature | None = None) -> StoryAssignment:
        """Decide the story of an article and index it (so the next copy finds it, even in one batch).

        `seen` is when monitor first saw the article (the fetch time); the story window
        measures `window_time(published, seen)`. Without `seen` the publisher's date is
        trusted as it is (callers replaying known-good times), and an undated item is
        treated as current (the latest time indexed). An article key seen before keeps
        its story; its signature is refreshed. `signature` is `text_signature(title, text)`
        when the caller computed it already (in a worker process).
        """
        if seen is None:
            seen = _utc(published) if published else (self._clock or datetime.now(UTC))
        seen = _utc(seen)
        when = self.window_time(published, seen)
        related = self.related_threshold > 0
        sig = signature if signature is not None else text_signature(title, text, self.num_perm, related)
        fingerprint, values = sig.fingerprint, signature_values(sig.values, self.num_perm)
        required = self.threshold if sig.shingles >= SHORT_SHINGLES else max(self.threshold, SHORT_THRESHOLD)
        terms = _EMPTY_TERMS
        if related:
            terms = (sig.terms if sig.terms is not None else event_terms(title, text)).with_general()
        bands = self._buckets.keys(values)       # once: the look-up, the insert and the store's band keys
        site = site_of(article_key)
        known = self._slot.get(article_key)
        story: str | None
        similar: tuple[str, ...]
        level = COPY
        shared: tuple[str, ...] = ()
        if known is not None:
            story, similar, score = self._story[known], (), 1.0
            level = FIRST if story == article_key else COPY
        else:
            story, similar, score = self._match(article_key, fingerprint, values, bands, _micros(when), required)
            if story is None and self.related_threshold > 0:
                story, similar, score = self._match_related(site, terms, _micros(when))
                level = RELATED
            if story is not None:
                shared = self._shared(terms, self._slot[similar[0]])
        self._add(article_key, story or article_key, fingerprint, values, when, terms.hashes, bands,
                  self._site_id(site), terms.general)
        return StoryAssignment(article_key=article_key, story_key=story or article_key,
                               is_new_story=story is None, similar_to=similar, similarity=score,
                               fingerprint=fingerprint, signature=values_bytes(values), published=when,
                               seen=seen, level=level if story is not None else FIRST, shared=shared,
                               terms=terms.hashes.astype("<u8").tobytes(),
                               bands=tuple(bands.view(np.int64).tolist()))

    def band_keys(self, signature: bytes | np.ndarray) -> tuple[int, ...]:
        """The LSH band keys of a signature as signed 64-bit integers: what the PostgreSQL store
        indexes (`story_signatures.bands`, store/storyindex.py `copy_candidates`)."""
        values = signature if isinstance(signature, np.ndarray) else signature_values(signature, self.num_perm)
        return tuple(self._buckets.keys(values).view(np.int64).tolist())

    def _match_related(self, site: str, terms: EventTerms,
                       when_us: int) -> tuple[str | None, tuple[str, ...], float]:
        """The story of the earlier article whose event terms this one shares most, if enough."""
        # any article of the window is a candidate, whatever its level in its story: the outlets
        # that report an event first are often the shortest (a flash, a foreign-language brief),
        # and a rewrite shares more with another rewrite than with them (measured in
        # docs/dedupe.md: head-only candidates grouped 13 points fewer same-event pairs at the
        # same share of different-event pairs). Each join still needs its own evidence against
        # one article, and stories are never merged. Only another site's articles are candidates:
        # one outlet's articles share its boilerplate, not an event. (`site` is the new article's;
        # it is not indexed yet, so no candidate slot is its own.)
        if not site:                 # no http(s) host (a urn:, a javascript: link): no outlet to compare
            return None, (), 0.0
        own = self._site_ids.get(site, -1)

        def eligible(slots: np.ndarray) -> np.ndarray:
            sites = self._site[slots]
            return (np.abs(self._when[slots] - when_us) <= self._window_us) & (sites != own) & (sites != 0)

        found = self._related.best(terms.hashes, eligible, terms.general)
        if found is None or found[0] < self.related_threshold:
            return None, (), 0.0
        score, slot = found
        return self._story[slot], (str(self._key[slot]),), round(score, 4)

    def _shared(self, terms: EventTerms, slot: int) -> tuple[str, ...]:
        """The readable event terms an article shares with the one in `slot`, rarest first."""
        shared = np.intersect1d(terms.hashes, self._related.terms(slot), assume_unique=True)
        if not len(shared):
            return ()
        order = np.argsort(-self._related.freq.weights(shared), kind="stable")
        return tuple(terms.labels[int(h)] for h in shared[order][:12])

    def _match(self, key: str, fingerprint: str, values: np.ndarray, bands: np.ndarray, when_us: int,
               required: float) -> tuple[str | None, tuple[str, ...], float]:
        exact = self._by_fingerprint.get(fingerprint)
        if exact is not None and self._key[exact] != key and self._in_window(exact, when_us):
            return self._story[exact], (str(self._key[exact]),), 1.0
        found = self._buckets.query(bands)
        if not found:
            return None, (), 0.0
        cands = np.fromiter(found, dtype=np.int64, count=len(found))
        cands = cands[np.abs(self._when[cands] - when_us) <= self._window_us]
        # LSH only proposes candidates; the estimated Jaccard decides (precision first).
        # Same estimate as MinHash.jaccard: the share of equal hash values.
        agree = np.count_nonzero(self._sigs[cands] == values, axis=1)
        scored = [(n / self.num_perm, str(self._key[c]))
                  for n, c in zip(agree.tolist(), cands.tolist()) if n / self.num_perm >= required]
        scored = [(sc, c) for sc, c in scored if c != key]
        if not scored:
            return None, (), 0.0
        scored.sort(key=lambda sc: (-sc[0], sc[1]))
        best = scored[0][1]
        return self._story[self._slot[best]], tuple(c for _, c in scored), scored[0][0]

    # -- window ------------------------------------------------------------------
    def _in_window(self, slot: int, when_us: int) -> bool:
        return abs(int(self._when[slot]) - when_us) <= self._window_us

    def _take_slot(self) -> int:
        if self._free:
            return self._free.pop()
        slot = len(self._key)
        if slot == len(self._when):                     # full: grow by half
            size = max(64, slot + slot // 2)
            sigs = np.zeros((size, self.num_perm), dtype=np.uint32)
            sigs[:slot] = self._sigs
            when = np.full(size, _NEVER, dtype=np.int64)
            when[:slot] = self._when
            site = np.zeros(size, dtype=np.int32)
            site[:slot] = self._site[:slot]
            self._sigs, self._when, self._site = sigs, when, site
        self._key.append(None)
        self._story.append(None)
        self._fingerprint.append(None)
        return slot

    def _remove(self, slot: int) -> None:
        key, fingerprint = self._key[slot], self._fingerprint[slot]
        del self._slot[str(key)]
        self._buckets.remove(slot, self._buckets.keys(self._sigs[slot]))
        self._related.remove(slot)
        if fingerprint is not None and self._by_fingerprint.get(fingerprint) == slot:
            del self._by_fingerprint[fingerprint]
        self._key[slot] = self._story[slot] = self._fingerprint[slot] = None
        self._site[slot] = 0
        self._when[slot] = _NEVER
        self._free.append(slot)

    def _evict(self) -> None:
        """Forget articles published more than a window before the latest one seen."""
        if self._clock is None:
            return
        horizon = _micros(self._clock - self.window)
        if self._oldest >= horizon:
            return
        for slot in np.flatnonzero(self._when < horizon).tolist():
            self._remove(slot)
        self._oldest = int(self._when.min()) if len(self._when) else _NEVER


def _parse(t: datetime | str | None) -> datetime | None:
    if t is None or isinstance(t, datetime):
        return t
    return _utc(datetime.fromisoformat(t))
