"""How common a word is in general language, for the related level: wordfreq's lists, keyed like event terms.

Owns a compact lookup from an event term's hash (`stories.related`, kind "word") to how much
that word can tell events apart: close to 1 for a word that is rare in every language we
read ("Crooks", "Ahmedabad", "Prevost"), less for one that is common in some language
("Trump", "Service", "Air", "Cour"). The story window's own document frequencies say the
same only once the window holds enough news; the two articles of `monitor stories a b`, or
the first minutes of a new installation, have none, and there a name the whole world writes
about looked as rare as the event's own names.

The lists are wordfreq's (a PyPI package that ships them: nothing is downloaded at run time),
its "small" list per language, words at or above `MIN_ZIPF` only. The table is built on first
use (about two seconds: every word folded and hashed as `stories.related` folds and hashes a
name) and kept in the user's cache folder, so later processes load it in milliseconds.
Without wordfreq every word counts as rare: the level then weighs by the window alone.
Must not do network I/O; writes only its own cache file.
"""

from __future__ import annotations

import importlib.metadata
import math
import os
import tempfile
import zipfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

# languages whose words our tokeniser splits as wordfreq does (not the unsegmented scripts)
LANGUAGES = ("en de fr it es pt nl pl cs sk sl sh ro hu sv da nb fi is lt lv tr id ms "
             "ru uk bg mk el ar fa he hi ca vi").split()
MIN_ZIPF = 4.0              # rarer than this in every language: a rare word (weight 1)
LEAD_WORDS = 400            # how many words of an article the event terms come from
FLOOR = 0.15                # the least a word weighs, however common ("the" is a stop word anyway)
_VERSION = 1                # of the cache file's layout and of the folding it was built with


def _doc_rate(zipf: np.ndarray) -> np.ndarray:
    """The share of articles in which a word of this Zipf frequency occurs in the lead."""
    return -np.expm1(-LEAD_WORDS * np.power(10.0, zipf - 9.0))


def general_weight(zipf: np.ndarray) -> np.ndarray:
    """Information of a word of this Zipf frequency relative to a rare one, in [FLOOR, 1]:
    -log(doc rate) over -log(doc rate at `MIN_ZIPF` - 1)."""
    rare = -math.log(float(_doc_rate(np.array([MIN_ZIPF - 1.0]))[0]))
    return np.clip(-np.log(_doc_rate(np.asarray(zipf, dtype=np.float64))) / rare, FLOOR, 1.0)


def _wordfreq_version() -> str | None:
    """wordfreq's installed version, without importing it (its import alone takes 0.4 s)."""
    try:
        return importlib.metadata.version("wordfreq")
    except importlib.metadata.PackageNotFoundError:
        return None


def _cache_path(version: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "monitor" / f"word-rarity-v{_VERSION}-{version}-{int(MIN_ZIPF * 10)}.npz"


def _build(key_hash: Callable[[str], int]) -> tuple[np.ndarray, np.ndarray]:
    """(sorted term hashes, weights) of every common word of `LANGUAGES`, the highest frequency
    of any language kept for a word two languages share."""
    from wordfreq import DATA_PATH, read_cBpack
    best: dict[int, float] = {}
    last_bucket = int(round((9.0 - MIN_ZIPF) * 100))
    for lang in LANGUAGES:
        path = Path(DATA_PATH) / f"small_{lang}.msgpack.gz"
        if not path.exists():
            continue
        for bucket, words in enumerate(read_cBpack(str(path))[:last_bucket + 1]):
            zipf = 9.0 - bucket / 100.0
            for word in words:
                if len(word) < 2 or not word.isalpha():
                    continue
                h = key_hash(word)
                if best.get(h, 0.0) < zipf:
                    best[h] = zipf
    hashes = np.array(sorted(best), dtype=np.uint64)
    weights = general_weight(np.array([best[int(h)] for h in hashes])).astype(np.float32)
    return hashes, weights


@lru_cache(maxsize=1)
def table(key_hash: Callable[[str], int]) -> tuple[np.ndarray, np.ndarray]:
    """The lookup (sorted hashes, weights): from the cache file, else built (and cached)."""
    version = _wordfreq_version()
    if version is None:
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.float32)
    path = _cache_path(version)
    try:
        with np.load(path) as f:
            return f["hashes"], f["weights"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        pass                        # no cache yet, or a torn or foreign file: built again
    hashes, weights = _build(key_hash)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as tmp:
            np.savez(tmp, hashes=hashes, weights=weights)
        os.replace(tmp.name, path)
    except OSError:
        pass                        # a read-only home: built again by the next process
    return hashes, weights


def weights_of(hashes: np.ndarray, key_hash: Callable[[str], int]) -> np.ndarray:
    """General-language weight of each term hash: 1.0 for a term not in the table (a rare word,
    a number, a quote, a place)."""
    keys, values = table(key_hash)
    out = np.ones(len(hashes), dtype=np.float64)
    if not len(keys) or not len(hashes):
        return out
    at = np.minimum(np.searchsorted(keys, hashes), len(keys) - 1)
    found = keys[at] == hashes
    out[found] = values[at[found]]
    return out
