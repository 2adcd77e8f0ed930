"""LSH band tables and inverted indexes in sorted numpy arrays: which slots share a key.

Owns the compact key -> slot multimap the story index uses for its LSH bands (and any
other key sets, such as the related-coverage terms). Must not decide anything: it
proposes candidate slots; the caller scores them.
"""

from __future__ import annotations

import numpy as np


class Buckets:
    """The LSH band tables: which slots share a band of hash values with a query.

    Does what datasketch's `MinHashLSH` does with the same bands and rows (`b` bands of
    `r` values, taken from `MinHashLSH` for the threshold), in a fraction of the memory:
    `MinHashLSH` keeps a Python set per bucket and a bytes key per band, about 7 KB per
    article at 32 bands. Here each band of an article is one 64-bit key (its values mixed
    with the band number) and one int32 slot in two sorted numpy arrays, 12 bytes; new
    entries wait in a dict (key -> slot, or a list of slots on collision) until there are
    an eighth as many as sorted ones, then the two are merged. A removed entry is marked
    -1 in place and dropped at the next merge. Two different bands that mix to the same
    key only propose an extra candidate, which the caller's Jaccard estimate rejects.
    A look-up searches the sorted arrays only for keys whose flag in a fixed presence filter
    (4 MiB per table, by the key's top bits) is set.
    """

    MIN_PENDING = 16_384        # entries (512 articles at 32 bands) kept unsorted at least
    FILTER_BITS = 22            # the sorted keys' presence filter: 4 MiB of flags, by a key's top bits

    def __init__(self, b: int, r: int):
        self.b, self.r = b, r
        rng = np.random.default_rng(0x5EED)
        self._mul = rng.integers(1, 2**63, size=r, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        self._band = rng.integers(0, 2**63, size=b, dtype=np.uint64)
        self._keys = np.empty(0, dtype=np.uint64)      # sorted
        self._slots = np.empty(0, dtype=np.int32)      # aligned with _keys; -1 when removed
        self._dead = 0
        self._pending: dict[int, int | list[int]] = {}
        self._n_pending = 0
        # a flag per value of a key's top FILTER_BITS bits, set for every key merged into the sorted
        # arrays (removed ones too, until it is rebuilt): a key whose flag is clear is not there, and
        # costs no binary search over a million entries (most keys of a query are in no other article)
        self._filter: np.ndarray | None = None
        self._filtered = 0          # keys flagged since the filter was rebuilt
        self._shift = np.uint64(64 - self.FILTER_BITS)

    def keys(self, values: np.ndarray) -> np.ndarray:
        """One uint64 key per band of a signature's hash values."""
        bands = values[:self.b * self.r].reshape(self.b, self.r).astype(np.uint64)
        return (bands * self._mul).sum(axis=1, dtype=np.uint64) ^ self._band

    def insert(self, slot: int, keys: np.ndarray) -> None:
        pending = self._pending
        for k in keys.tolist():
            held = pending.get(k)
            if held is None:
                pending[k] = slot
            elif isinstance(held, int):
                pending[k] = [held, slot]
            else:
                held.append(slot)
        self._n_pending += len(keys)
        if self._n_pending + self._dead > max(self.MIN_PENDING, len(self._keys) // 8):
            self._merge()

    def remove(self, slot: int, keys: np.ndarray) -> None:
        pending = self._pending
        frozen: list[int] = []
        for k in keys.tolist():
            held = pending.get(k)
            if held == slot:
                del pending[k]
            elif isinstance(held, list) and slot in held:
                held.remove(slot)
                if len(held) == 1:
                    pending[k] = held[0]
            else:
                frozen.append(k)
                continue
            self._n_pending -= 1
        if frozen:
            lo, hi = self._spans(np.array(frozen, dtype=np.uint64))
            for i in range(len(lo)):
                span = self._slots[lo[i]:hi[i]]      # a view: marks in place
                hit = span == slot
                self._dead += int(np.count_nonzero(hit))
                span[hit] = -1

    def query(self, keys: np.ndarray) -> set[int]:
        found: set[int] = set()
        get = self._pending.get
        for k in keys.tolist():
            held = get(k)
            if held is None:
                continue
            if isinstance(held, int):
                found.add(held)
            else:
                found.update(held)
        if len(self._keys):
            lo, hi = self._spans(keys)
            for a, b in zip(lo.tolist(), hi.tolist()):
                found.update(self._slots[a:b].tolist())
            found.discard(-1)
        return found

    def query_counts(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each slot holding any of `keys` and how many of them it holds (keys must be unique)."""
        parts: list[np.ndarray] = []
        get = self._pending.get
        loose: list[int] = []
        for k in keys.tolist():
            held = get(k)
            if held is None:
                continue
            if isinstance(held, int):
                loose.append(held)
            else:
                loose.extend(held)
        parts.append(np.array(loose, dtype=np.int32))
        if len(self._keys):
            lo, hi = self._spans(keys)
            parts.extend(self._slots[a:b] for a, b in zip(lo.tolist(), hi.tolist()))
        found = np.concatenate(parts)
        found = np.sort(found[found >= 0])
        if not len(found):
            return found, np.zeros(0, dtype=np.int64)
        starts = np.flatnonzero(np.concatenate(([True], found[1:] != found[:-1])))
        return found[starts], np.diff(np.append(starts, len(found)))

    def _spans(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where the sorted arrays hold each of `keys` that they hold at all: (starts, ends).

        One binary search per key, and a second (for the end) only for the keys found: most
        keys of a query are in no other article, and on a window of a million entries each
        search is a chain of cache misses."""
        keys_sorted = self._keys
        if self._filter is not None:
            maybe = np.flatnonzero(self._filter[(keys >> self._shift).astype(np.intp)])
            if len(maybe) < len(keys):
                keys = keys[maybe]
        lo = keys_sorted.searchsorted(keys, "left")
        inside = lo < len(keys_sorted)
        hit = np.flatnonzero(inside)
        hit = hit[keys_sorted[lo[hit]] == keys[hit]]
        if not len(hit):
            return hit, hit
        return lo[hit], keys_sorted.searchsorted(keys[hit], "right")

    def _merge(self) -> None:
        ks: list[int] = []
        ss: list[int] = []
        for k, held in self._pending.items():
            if isinstance(held, int):
                ks.append(k)
                ss.append(held)
            else:
                ks.extend([k] * len(held))
                ss.extend(held)
        new_keys = np.array(ks, dtype=np.uint64)
        order = np.argsort(new_keys)
        new_keys, new_slots = new_keys[order], np.array(ss, dtype=np.int32)[order]
        keys, slots = self._keys, self._slots
        if self._dead:
            live = slots >= 0
            keys, slots = keys[live], slots[live]
        # insert the short sorted run into the long one: no copy of the long one but the result
        at = np.searchsorted(keys, new_keys)
        self._keys, self._slots = np.insert(keys, at, new_keys), np.insert(slots, at, new_slots)
        if self._filter is None or self._filtered > 2 * len(self._keys):     # mostly removed keys: afresh
            self._filter = np.zeros(1 << self.FILTER_BITS, dtype=bool)
            self._filter[(self._keys >> self._shift).astype(np.intp)] = True
            self._filtered = len(self._keys)
        else:
            self._filter[(new_keys >> self._shift).astype(np.intp)] = True
            self._filtered += len(new_keys)
        self._pending = {}
        self._n_pending = self._dead = 0
