"""The story index: which earlier article, if any, carries the same story as a new one.

Owns the in-memory MinHash LSH over recent articles (a sliding time window), the
exact-fingerprint shortcut, and the rule that an article joins the story of its most
similar earlier article. Rebuilt at start from the signatures the store keeps
(`Store.story_signatures`), so nothing is re-hashed. Must not do I/O: the pipeline
loads rows into it and saves what `assign` returns.

Keys are canonical article URLs (known before the article has a database id); a story
is keyed by the URL of its first article, which the store turns into articles.story_id.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from datasketch import MinHash, MinHashLSH

from monitor.dedupe import (
    NUM_PERM,
    minhash,
    shingles,
    signature_bytes,
    signature_from_bytes,
    text_fingerprint,
    words,
)

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


@dataclass(frozen=True)
class StoryAssignment:
    """Where `StoryIndex.assign` put an article, and what the store must keep of it."""

    article_key: str
    story_key: str                  # key of the story's first article (== article_key when new)
    is_new_story: bool
    similar_to: tuple[str, ...]     # earlier articles it matched, most similar first
    similarity: float               # estimated Jaccard with the best match; 0.0 for a new story
    fingerprint: str                # normalised exact text hash (articles.content_hash)
    signature: bytes                # MinHash values, for Store.save_story_signatures
    published: datetime


@dataclass
class _Item:
    story_key: str
    fingerprint: str
    minhash: MinHash
    published: datetime


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


class StoryIndex:
    """Near-duplicate story clustering over a sliding window of recent articles.

    An article joins the story of the most similar indexed article whose estimated
    Jaccard similarity (word 4-gram shingles) is at least `threshold` and which was
    published within `window_hours` of it; exact copies (same normalised text) join
    without a MinHash comparison. Stories are never merged after the fact: a wrong
    merge would hide a story from a reader, a missed one only shows it twice.
    """

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, num_perm: int = NUM_PERM, window_hours: float = 72):
        self.threshold = threshold
        self.num_perm = num_perm
        self.window = timedelta(hours=window_hours)
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._items: dict[str, _Item] = {}
        self._by_fingerprint: dict[str, str] = {}
        self._expiry: list[tuple[datetime, str]] = []    # heap of (published, key)
        self._clock: datetime | None = None              # latest publication time seen

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def story_of(self, article_key: str) -> str | None:
        item = self._items.get(article_key)
        return item.story_key if item else None

    # -- building ----------------------------------------------------------------
    def add(self, article_key: str, story_key: str, fingerprint: str, sig: bytes | MinHash,
            published: datetime) -> None:
        """Index an article whose story is already known (from the store, or from `assign`)."""
        published = _utc(published)
        if article_key in self._items:
            self._remove(article_key)
        m = sig if isinstance(sig, MinHash) else signature_from_bytes(sig)
        self._items[article_key] = _Item(story_key, fingerprint, m, published)
        self._by_fingerprint.setdefault(fingerprint, article_key)
        self._lsh.insert(article_key, m, check_duplication=False)
        heapq.heappush(self._expiry, (published, article_key))
        if self._clock is None or published > self._clock:
            self._clock = published
        self._evict()

    def load(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Rebuild from `Store.story_signatures()` rows; returns how many were indexed."""
        n = 0
        for r in rows:
            published = r["published"]
            if isinstance(published, str):
                published = datetime.fromisoformat(published)
            self.add(r["article_url"], r["story_url"], r["fingerprint"], r["minhash"], published)
            n += 1
        return n

    # -- deciding ----------------------------------------------------------------
    def assign(self, article_key: str, title: str, text: str,
               published: datetime | None = None) -> StoryAssignment:
        """Decide the story of an article and index it (so the next copy finds it, even in one batch).

        `published` defaults to the latest time seen (an undated item is treated as current).
        An article key seen before keeps its story; its signature is refreshed.
        """
        when = _utc(published) if published else (self._clock or datetime.now(UTC))
        fingerprint = text_fingerprint(title, text)
        body = text if len(words(text)) >= MIN_TEXT_WORDS else f"{title}\n{text}"
        shingle_set = shingles(body)
        m = minhash(shingle_set, self.num_perm)
        required = self.threshold if len(shingle_set) >= SHORT_SHINGLES else max(self.threshold, SHORT_THRESHOLD)
        known = self._items.get(article_key)
        if known is not None:
            story, similar, score = known.story_key, (), 1.0
        else:
            story, similar, score = self._match(article_key, fingerprint, m, when, required)
        self.add(article_key, story or article_key, fingerprint, m, when)
        return StoryAssignment(article_key=article_key, story_key=story or article_key,
                               is_new_story=story is None, similar_to=similar, similarity=score,
                               fingerprint=fingerprint, signature=signature_bytes(m), published=when)

    def _match(self, key: str, fingerprint: str, m: MinHash, when: datetime,
               required: float) -> tuple[str | None, tuple[str, ...], float]:
        exact = self._by_fingerprint.get(fingerprint)
        if exact is not None and exact != key and self._in_window(self._items[exact], when):
            return self._items[exact].story_key, (exact,), 1.0
        scored = []
        for cand in self._lsh.query(m):
            item = self._items.get(cand)
            if item is None or cand == key or not self._in_window(item, when):
                continue
            # LSH only proposes candidates; the estimated Jaccard decides (precision first)
            score = m.jaccard(item.minhash)
            if score >= required:
                scored.append((score, cand))
        if not scored:
            return None, (), 0.0
        scored.sort(key=lambda sc: (-sc[0], sc[1]))
        best = scored[0][1]
        return self._items[best].story_key, tuple(c for _, c in scored), scored[0][0]

    # -- window ------------------------------------------------------------------
    def _in_window(self, item: _Item, when: datetime) -> bool:
        return abs(item.published - when) <= self.window

    def _remove(self, key: str) -> None:
        item = self._items.pop(key)
        self._lsh.remove(key)
        if self._by_fingerprint.get(item.fingerprint) == key:
            del self._by_fingerprint[item.fingerprint]

    def _evict(self) -> None:
        """Forget articles published more than a window before the latest one seen."""
        if self._clock is None:
            return
        horizon = self._clock - self.window
        while self._expiry and self._expiry[0][0] < horizon:
            published, key = heapq.heappop(self._expiry)
            item = self._items.get(key)
            # a re-added key leaves a stale heap entry behind; only the current one counts
            if item is not None and item.published == published:
                self._remove(key)
