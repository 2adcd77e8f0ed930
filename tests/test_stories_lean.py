"""The compact story index decides as datasketch's MinHash objects and MinHashLSH would.

The index keeps only each article's hash values (uint32) and its own band tables (sorted
uint64 keys, a dict for the newest entries); these tests hold it to the reference it
replaced: `MinHashLSH` candidates for the same bands, and the same story decisions as an
index built on `MinHash` and `MinHashLSH` objects holding the same values. The values are
`dedupe.sketch`'s (one permutation hashing), held here to the exact Jaccard similarity
they estimate, about as closely as datasketch's 128 permutations (also checked here).
"""

from __future__ import annotations

import heapq
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH

from monitor.stories import dedupe as _dedupe
from monitor.stories.buckets import Buckets as _Buckets
from monitor.stories.dedupe import (
    NUM_PERM,
    SEED,
    jaccard,
    minhash,
    shingle_hashes,
    shingles,
    signature_bytes,
    signature_from_bytes,
    signature_values,
    sketch,
    text_fingerprint,
    values_bytes,
    word_shingles,
    words,
)
from monitor.stories.index import (
    MIN_TEXT_WORDS,
    SHORT_SHINGLES,
    SHORT_THRESHOLD,
    StoryIndex,
    lsh_bands,
    text_signature,
)

_SCHEME = _dedupe._datasketch()[1]       # the hashing scheme argument datasketch needs for stored values

T0 = datetime(2026, 1, 28, 9, 0, tzinfo=UTC)


def corpus(n: int, seed: int, hours_apart: float = 0.5) -> list[tuple[str, str, str, datetime]]:
    """Articles in publication order, a third of them near-copies of an earlier one, some
    short, some undated, a few URLs assigned twice."""
    rnd = random.Random(seed)
    vocab = [f"w{i}" for i in range(400)] + ["Straße", "ﬁnance", "日本", "café"]
    out: list[tuple[str, str, str, datetime]] = []
    texts: list[str] = []
    for i in range(n):
        when = T0 + timedelta(hours=i * hours_apart)
        r = rnd.random()
        if texts and r < 0.35:
            toks = rnd.choice(texts[-20:]).split(" ")
            for _ in range(rnd.randint(0, len(toks) // 8)):       # edits: none (an exact copy) to many
                toks[rnd.randrange(len(toks))] = rnd.choice(vocab)
            body = " ".join(toks[rnd.randint(0, 10):])
        elif r < 0.45:
            body = " ".join(rnd.choices(vocab, k=rnd.randint(0, 25)))    # a brief: title counts
        else:
            body = " ".join(rnd.choices(vocab, k=rnd.randint(60, 200)))
        texts.append(body)
        url = f"https://o{i % 7}.example/{i}" if rnd.random() > 0.05 or i < 10 else f"https://o1.example/{i - 5}"
        out.append((url, f"title {i % 13}", body, when))
    return out


class Reference:
    """The index as it was built on datasketch objects: a `MinHash` per article, `MinHashLSH`
    over URL keys and a heap for the window (the decision rules copied from StoryIndex)."""

    def __init__(self, threshold: float = 0.4, window_hours: float = 72):
        self.threshold, self.window = threshold, timedelta(hours=window_hours)
        self.lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        self.items: dict[str, tuple[str, str, MinHash, datetime]] = {}
        self.by_fp: dict[str, str] = {}
        self.expiry: list[tuple[datetime, str]] = []
        self.clock: datetime | None = None

    def assign(self, key: str, title: str, text: str, published: datetime | None):
        when = published or self.clock or datetime.now(UTC)
        fp = text_fingerprint(title, text)
        body = text if len(words(text)) >= MIN_TEXT_WORDS else f"{title}\n{text}"
        sh = shingle_hashes(words(body))
        m = MinHash(seed=SEED, hashvalues=sketch(sh).astype(np.uint64), **_SCHEME)
        required = self.threshold if len(sh) >= SHORT_SHINGLES else max(self.threshold, SHORT_THRESHOLD)
        if key in self.items:
            story, similar, score = self.items[key][0], (), 1.0
        else:
            story, similar, score = self.match(key, fp, m, when, required)
        self.add(key, story or key, fp, m, when)
        return story or key, story is None, similar, score, signature_bytes(m)

    def match(self, key, fp, m, when, required):
        exact = self.by_fp.get(fp)
        if exact is not None and exact != key and abs(self.items[exact][3] - when) <= self.window:
            return self.items[exact][0], (exact,), 1.0
        scored = []
        for cand in self.lsh.query(m):
            story, _, other, published = self.items[cand]
            if cand != key and abs(published - when) <= self.window and m.jaccard(other) >= required:
                scored.append((m.jaccard(other), cand))
        if not scored:
            return None, (), 0.0
        scored.sort(key=lambda sc: (-sc[0], sc[1]))
        return self.items[scored[0][1]][0], tuple(c for _, c in scored), scored[0][0]

    def add(self, key, story, fp, m, when):
        if key in self.items:
            self.remove(key)
        self.items[key] = (story, fp, m, when)
        self.by_fp.setdefault(fp, key)
        self.lsh.insert(key, m, check_duplication=False)
        heapq.heappush(self.expiry, (when, key))
        self.clock = max(self.clock or when, when)
        while self.expiry and self.expiry[0][0] < self.clock - self.window:
            published, k = heapq.heappop(self.expiry)
            if k in self.items and self.items[k][3] == published:
                self.remove(k)

    def remove(self, key):
        _, fp, _, _ = self.items.pop(key)
        self.lsh.remove(key)
        if self.by_fp.get(fp) == key:
            del self.by_fp[fp]


def test_minhash_equals_datasketch_default_hashing():
    rnd = random.Random(5)
    for _ in range(50):
        text = " ".join(rnd.choice(["Straße", "ﬁ", "日本語", "a", "b1", "café"]) for _ in range(rnd.randint(0, 60)))
        sh = shingles(text)
        ref = MinHash(num_perm=NUM_PERM, seed=SEED, **_SCHEME)
        ref.update_batch([s.encode() for s in sh])
        got = minhash(sh)
        assert np.array_equal(got.hashvalues, ref.hashvalues)
        got.update(b"one more")              # a returned MinHash hashes further input as datasketch does
        ref.update(b"one more")
        assert np.array_equal(got.hashvalues, ref.hashvalues)


def test_sketch_estimates_jaccard_as_closely_as_minhash():
    rnd = random.Random(9)
    vocab = [f"w{i}" for i in range(3000)] + ["Straße", "日本", "café"]
    errors: dict[int, list[tuple[float, float]]] = {}
    for n in (8, 20, 60, 150, 400):
        for _ in range(60):
            a = rnd.choices(vocab, k=n)
            b = list(a)
            for _ in range(rnd.randint(0, n // 2)):
                b[rnd.randrange(n)] = rnd.choice(vocab)
            exact = jaccard(word_shingles(a), word_shingles(b))
            est = float(np.mean(sketch(shingle_hashes(a)) == sketch(shingle_hashes(b))))
            mh = minhash(word_shingles(a)).jaccard(minhash(word_shingles(b)))
            errors.setdefault(n, []).append((abs(est - exact), abs(mh - exact)))
    for n, errs in errors.items():
        ours, theirs = np.mean(errs, axis=0)
        assert ours < 0.035 and ours < theirs + 0.01, (n, ours, theirs)
    same = rnd.choices(vocab, k=50)
    assert np.array_equal(sketch(shingle_hashes(same)), sketch(shingle_hashes(list(same))))
    assert sketch(shingle_hashes(["x"] * 3)).tolist() != sketch(shingle_hashes(["x"] * 4)).tolist()
    assert (sketch(shingle_hashes([])) == 0xFFFFFFFF).all()
    assert len(shingle_hashes(same + same)) == len(word_shingles(same + same))


def test_signature_values_keep_the_stored_format():
    m = minhash(shingles("a wire story about the port strike in Rotterdam and its effects"))
    blob = signature_bytes(m)
    assert len(blob) == 4 * NUM_PERM            # uint32: datasketch's values are 32-bit
    values = signature_values(blob)
    assert values.dtype == np.uint32 and np.array_equal(values, m.hashvalues)
    assert values_bytes(values) == blob
    assert np.array_equal(signature_values(signature_from_bytes(blob)), values)
    assert np.array_equal(signature_from_bytes(blob).hashvalues, m.hashvalues)
    # rows saved by earlier versions: datasketch's uint64, 8 bytes a value, read the same
    old = m.hashvalues.astype("<u8").tobytes()
    assert np.array_equal(signature_values(old), values)
    assert np.array_equal(signature_from_bytes(old).hashvalues, m.hashvalues)
    # the width follows the index's permutations: 64 values stored wide are 512 bytes too
    short = minhash(shingles("a wire story about the port strike"), 64)
    assert np.array_equal(signature_values(short.hashvalues.astype("<u8").tobytes(), 64), short.hashvalues)
    wide = np.full(NUM_PERM, 2**40, dtype="<u8").tobytes()
    with pytest.raises(ValueError):
        signature_values(wide)


def test_an_index_loads_old_wide_signatures_beside_new_ones():
    """A store upgraded in place holds both widths; the rebuilt index compares them as equals."""
    text = " ".join(f"word{i}" for i in range(80))
    sig = text_signature("T", text)
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    idx = StoryIndex()
    wide = signature_values(sig.values).astype("<u8").tobytes()
    idx.load([{"article_url": "https://a.example/1", "story_url": "https://a.example/1", "fingerprint": "f1",
               "minhash": wide, "published": now.isoformat(), "seen": now.isoformat()}])
    got = idx.assign("https://b.example/2", "T", text + " more", now, now, signature=text_signature("T", text + " more"))
    assert got.story_key == "https://a.example/1" and got.similarity >= 0.9
    assert len(got.signature) == 4 * NUM_PERM


@pytest.mark.parametrize("min_pending,threshold,filter_bits", [
    (1, 0.4, None), (64, 0.4, None), (_Buckets.MIN_PENDING, 0.4, None), (64, 0.8, None), (64, 0.25, None),
    (1, 0.4, 3), (64, 0.4, 8), (16, 0.25, 12)])        # a small presence filter: most flags shared, rebuilt
def test_buckets_propose_what_minhashlsh_proposes(min_pending, threshold, filter_bits):
    rnd = random.Random(min_pending)
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    buckets = _Buckets(lsh.b, lsh.r)
    buckets.MIN_PENDING = min_pending
    if filter_bits is not None:
        buckets.FILTER_BITS, buckets._shift = filter_bits, np.uint64(64 - filter_bits)
    bases = [set(rnd.sample(range(10_000), 80)) for _ in range(40)]
    sigs: dict[int, MinHash] = {}
    for slot in range(400):
        members = set(rnd.choice(bases))
        for x in rnd.sample(sorted(members), rnd.randint(0, 50)):     # near-copies, far copies
            members.discard(x)
            members.add(rnd.randrange(10_000, 20_000))
        sigs[slot] = minhash({str(x) for x in members})
        buckets.insert(slot, buckets.keys(signature_values(sigs[slot])))
        lsh.insert(slot, sigs[slot])
        if slot % 3 == 0 and slot:                                   # removals, before and after merges
            gone = rnd.choice(sorted(sigs))
            buckets.remove(gone, buckets.keys(signature_values(sigs[gone])))
            lsh.remove(gone)
            del sigs[gone]
    assert sum(len(buckets.query(buckets.keys(signature_values(m)))) for m in sigs.values()) > len(sigs) + 10
    for m in sigs.values():
        assert buckets.query(buckets.keys(signature_values(m))) == set(lsh.query(m))


@pytest.mark.parametrize("min_pending,hours_apart", [(1, 0.5), (100, 0.5), (_Buckets.MIN_PENDING, 0.5), (50, 3.0)])
def test_index_decides_as_the_datasketch_objects_did(monkeypatch, min_pending, hours_apart):
    monkeypatch.setattr(_Buckets, "MIN_PENDING", min_pending)
    arts = corpus(700, seed=min_pending, hours_apart=hours_apart)
    # the copy level against the reference; the related level is measured on its own
    index, ref = StoryIndex(window_hours=72, related_threshold=0), Reference(window_hours=72)
    joined = 0
    for i, (url, title, text, when) in enumerate(arts):
        published = None if i % 50 == 7 else when
        got = index.assign(url, title, text, published)
        story, is_new, similar, score, blob = ref.assign(url, title, text, published)
        assert (got.story_key, got.is_new_story, got.similar_to, got.signature) == (story, is_new, similar, blob)
        assert got.similarity == pytest.approx(score, abs=0)
        joined += not got.is_new_story
    assert len(index) == len(ref.items)
    assert joined > 150                                   # the corpus does exercise matching
    if hours_apart > 1:
        assert len(index) < len(arts) // 10               # and the window forgets


def test_a_restarted_index_matches_the_one_that_assigned(monkeypatch):
    monkeypatch.setattr(_Buckets, "MIN_PENDING", 32)
    arts = corpus(300, seed=3)
    index = StoryIndex()
    rows = []
    for url, title, text, when in arts:
        a = index.assign(url, title, text, when)
        rows.append({"article_url": url, "story_url": a.story_key, "fingerprint": a.fingerprint,
                     "minhash": a.signature, "published": a.published.isoformat(), "terms": a.terms})
    restarted = StoryIndex()
    assert restarted.load(rows) == len(rows)
    assert len(restarted) == len(index)
    for url, *_ in arts:
        assert restarted.story_of(url) == index.story_of(url)
    later = [(f"https://late.example/{i}", t, x, w + timedelta(hours=1)) for i, (_, t, x, w) in enumerate(arts[-40:])]
    for url, title, text, when in later:
        assert restarted.assign(url, title, text, when) == index.assign(url, title, text, when)


def test_evicted_slots_are_reused():
    index = StoryIndex(window_hours=10)
    for i, (url, title, text, _) in enumerate(corpus(500, seed=9)):
        index.assign(f"{url}#{i}", title, text, T0 + timedelta(hours=i))
    assert len(index) == 11                               # this hour and the ten before
    assert index._sigs.shape[0] <= 64                     # the arrays did not grow with the stream
    assert len(index._key) <= 64


@pytest.mark.parametrize("num_perm", [64, 128, 256])
def test_the_index_chooses_the_bands_and_rows_datasketch_chooses(num_perm):
    """lsh_bands (numpy, so the main process never imports scipy) agrees with MinHashLSH."""
    for threshold in (0.05, 0.07, 0.1, 0.2, 0.3, 0.33, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95):
        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        assert lsh_bands(threshold, num_perm) == (lsh.b, lsh.r), threshold
