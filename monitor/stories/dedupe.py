"""Keys that say "this is the same item" or "this is the same text": pure functions only.

Owns canonical URLs (tracking parameters stripped, rel=canonical honoured on the same
site), feed item keys held to the feed's own site (`item_url`), the normalised exact text fingerprint, word shingles and their MinHash
signature, and the "is this edit material?" decision. Must not do I/O: no network,
no database, no clock. The story index over these signatures lives in `stories.py`.
"""

from __future__ import annotations

import hashlib
import inspect
import re
import unicodedata
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
from tld import get_fld

if TYPE_CHECKING:
    from datasketch import MinHash

SHINGLE_WORDS = 4           # word 4-grams: one shared phrase is not a shared story
NUM_PERM = 128
SEED = 1                    # stored signatures are only comparable with the same seed and num_perm


@lru_cache(maxsize=1)
def _datasketch() -> tuple[Any, dict[str, str]]:
    """datasketch's MinHash, imported where signatures are made (the workers), not by every
    process that keys URLs: datasketch imports scipy (about 55 MB and half a second)."""
    from datasketch import MinHash
    # datasketch 2 must be told the hashing scheme when given stored values; 1.x has no such argument
    return MinHash, ({"scheme": "affine32"} if "scheme" in inspect.signature(MinHash).parameters else {})

# courlan strips the well-known trackers (utm_*, fbclid, gclid, mc_*, igshid, ref...);
# these are the ones it misses that we have seen on news sites.
_EXTRA_TRACKERS = re.compile(
    r"^(?:at_[a-z]+|cmpid|ocid|smid|sr_share|ns_[a-z]+|__twitter_impression|_ga|_gl|"
    r"s_cid|ncid|fb_[a-z_]+|spm)$")
_WORD = re.compile(r"\w+", re.UNICODE)


def _site(host: str) -> str:
    """The registrable domain (bbc.co.uk for news.bbc.co.uk); the host itself for IPs and localhost."""
    host = host.lower().rstrip(".")
    fld = get_fld(host, fix_protocol=True, fail_silently=True)
    return fld or host


def site_of(url: str) -> str:
    """The registrable site of a URL (bbc.co.uk for https://news.bbc.co.uk/x); "" when it has none."""
    m = _AUTHORITY.match(url)
    if m is not None:
        # only the scheme and authority decide it, and a feed's items share a few: each split once
        return _authority_site(m.group())
    return _split_site(url)


# "http(s)://" and the authority after it, up to the path, query or fragment, where urlsplit
# would find the same netloc (it drops tabs and line breaks first: with one there, the full split)
_AUTHORITY = re.compile(r"https?://[^/?#\t\r\n]*+(?![\t\r\n])")


def _split_site(url: str) -> str:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return _host_site(host) if host else ""


@lru_cache(maxsize=65536)
def _authority_site(head: str) -> str:
    """`site_of` of "scheme://authority", remembered."""
    return _split_site(head)


@lru_cache(maxsize=65536)
def _host_site(host: str) -> str:
    """`_site`, remembered per host: a feed's 30 items ask for the same two hosts' sites
    (its own and its items'), each a public-suffix look-up."""
    return _site(host)


def _valid_http(url: str) -> bool:
    try:
        parts = urlsplit(url)
        _ = parts.port          # raises on a malformed port
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def _normalise(url: str) -> str:
    # imported here: courlan (and urllib3 under it) costs ~0.1 s of CPU to import, and the main
    # process of a poll never canonicalises (its workers do, with the parse: analysis.parse_and_key)
    from courlan import normalize_url, scrub_url

    url = normalize_url(scrub_url(url.strip()), strict=False)
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not _EXTRA_TRACKERS.match(k.lower())]
    # the fragment never selects a different article, so it is always dropped
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(sorted(query)), ""))


def canonical_url(url: str, page_canonical: str | None = None) -> str:
    """The URL an article is known by: normalised, tracking stripped, rel=canonical honoured.

    The page's `<link rel="canonical">` wins only when it is an absolute http(s) URL on
    the same registrable site as `url`. Cross-site canonicals are ignored on purpose:
    articles.url is UNIQUE, so honouring "syndicated copy -> original outlet" would make
    the copy collide with the original and vanish instead of being listed as another
    source of the story (the story index groups it anyway), and a page could otherwise
    claim any URL on the web and suppress the article that really lives there.
    A URL that cannot be parsed is returned stripped, unchanged, so it still has a key.
    """
    if not _valid_http(url):
        return url.strip()
    try:
        base = _normalise(url)
    except ValueError:
        return url.strip()
    if page_canonical and _valid_http(page_canonical.strip()):
        try:
            candidate = _normalise(page_canonical)
        except ValueError:
            return base
        if _host_site(urlsplit(candidate).hostname or "") == _host_site(urlsplit(base).hostname or ""):
            return candidate
    return base


VIA = "#via="    # canonical URLs never carry a fragment, so a held key can never equal a real one


def same_site(url: str, other: str) -> bool:
    """Do two http(s) URLs belong to the same registrable site (public-suffix aware)?"""
    if not (_valid_http(url.strip()) and _valid_http(other.strip())):
        return False
    return _host_site(urlsplit(url.strip()).hostname or "") == _host_site(urlsplit(other.strip()).hostname or "")


def item_url(link: str, feed_url: str, page_canonical: str | None = None) -> str:
    """The key of a feed item's article: its canonical URL, if the feed may speak for that URL.

    A feed speaks for its own site only, as a page does with rel=canonical. An item whose
    link lies on another registrable site than the feed's own URL (an aggregator, a
    syndication proxy, or a feed claiming a trusted outlet's article), or whose key is not
    an http(s) URL at all (a `urn:` GUID any feed can repeat), is held to its feed: the key
    is `<canonical>#via=<feed site>`. It is stored and shown as that feed's item and can join
    the story of the real article, but can never take the real article's URL, make the
    outlet's own copy a duplicate, or put its title on that URL. Browsers ignore the fragment,
    so the link still opens the article it names.
    """
    key = canonical_url(link, page_canonical)
    if not link.strip() or same_site(key, feed_url):
        return key
    feed_host = urlsplit(feed_url.strip()).hostname if _valid_http(feed_url.strip()) else None
    return f"{key}{VIA}{_host_site(feed_host) if feed_host else feed_url.strip()}"


def held_to_feed(url: str) -> bool:
    """True for a key made by item_url for an item its feed cannot speak for."""
    return VIA in url


def words(text: str) -> list[str]:
    """Lower-cased word tokens after Unicode normalisation (curly quotes, ligatures, accents kept)."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def text_fingerprint(title: str, text: str) -> str:
    """A hash of the normalised text: equal for exact copies whatever their spacing and punctuation.

    The title counts only when there is no text, since outlets retitle copies of the same text.
    """
    return words_fingerprint(words(text) or words(title))


def words_fingerprint(toks: list[str]) -> str:
    """`text_fingerprint` of text already split by `words`."""
    return hashlib.blake2b(" ".join(toks).encode(), digest_size=16).hexdigest()


def shingles(text: str, k: int = SHINGLE_WORDS) -> set[str]:
    """The set of word k-grams of a text (the whole text as one shingle when shorter than k)."""
    return word_shingles(words(text), k)


def word_shingles(toks: list[str], k: int = SHINGLE_WORDS) -> set[str]:
    """`shingles` of text already split by `words`."""
    if len(toks) < k:
        return {" ".join(toks)} if toks else set()
    return {" ".join(toks[i:i + k]) for i in range(len(toks) - k + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def is_material_update(old_text: str, new_text: str, threshold: float = 0.8) -> bool:
    """Whether a re-published entry's text changed enough to alert again ("updated").

    Material when the exact Jaccard similarity of word shingles falls below `threshold`.
    A new text that is empty (page gone, extraction failed) is never material: losing
    text is not news.
    """
    new = shingles(new_text)
    if not new:
        return False
    return jaccard(shingles(old_text), new) < threshold


_PERMUTATIONS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _permutations(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    # drawing the permutations costs more than hashing a whole article: do it once
    if num_perm not in _PERMUTATIONS:
        minhash_cls, scheme = _datasketch()
        _PERMUTATIONS[num_perm] = minhash_cls(num_perm=num_perm, seed=SEED, **scheme).permutations
    return _PERMUTATIONS[num_perm]


def _prehashed(value: int) -> int:
    return value


def minhash(shingle_set: set[str], num_perm: int = NUM_PERM) -> MinHash:
    """The MinHash of a set of shingles.

    The same values as `MinHash.update_batch` with datasketch's default hash (the first 4
    bytes of each shingle's SHA-1, little-endian), but the 32-bit hashes are taken in one
    pass here instead of one Python call each, a third of the cost of an article's signature.
    """
    perms = _permutations(num_perm)
    MinHash, scheme = _datasketch()  # noqa: N806
    if not shingle_set:
        return MinHash(num_perm=num_perm, seed=SEED, permutations=perms, **scheme)
    sha1 = hashlib.sha1
    prefixes = b"".join([sha1(s.encode()).digest()[:4] for s in shingle_set])
    m = MinHash(num_perm=num_perm, seed=SEED, permutations=perms, hashfunc=_prehashed, **scheme)
    m.update_batch(np.frombuffer(prefixes, dtype="<u4").tolist())
    # the caller gets a MinHash that hashes further updates as datasketch does by default
    return MinHash(seed=SEED, hashvalues=m.hashvalues, permutations=perms, **scheme)


# -- the story index's sketch: one hash per shingle, one permutation ------------------------
# What the index needs is a fixed-length signature whose share of equal values estimates the
# Jaccard similarity of two shingle sets. datasketch's MinHash takes a SHA-1 per shingle string
# and 128 affine permutations of every hash (128 x shingles multiply-mod operations): most of an
# article's cost. `sketch` gets the same estimate from one pass: each word is hashed once
# (cached), a shingle's hash is mixed from its four word hashes with array operations, and one
# permutation hashing splits the hashes into `num_perm` bins by their high bits and keeps the
# least low 32 bits per bin; an empty bin (a text of fewer shingles than bins) takes its value
# from the first filled bin along a fixed random probe sequence of its own, mixed with the
# probe's depth (densification, Shrivastava and Li 2014, 2017), so two texts agree on a bin
# with probability their Jaccard similarity. The values are not datasketch's: signatures stored by an older version never
# agree with new ones (their exact fingerprints still do), which only costs near-copy
# grouping across an upgrade for one story window.
_M64 = (1 << 64) - 1
_WORD_HASHES: dict[str, int] = {}
_WORD_CACHE = 1 << 16               # words kept hashed (about 8 MiB with the words); cleared when full
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5],
                dtype=np.uint64)
_EMPTY = np.uint32(0xFFFFFFFF)
# numpy scalars made once: making one costs about what an operation on a summary's few dozen
# shingles does, and a signature used a dozen (same values)
_MIX0, _MIX1, _MIX2, _MIX3 = (np.uint64(int(m)) for m in _MIX)
_MIXES = (_MIX0, _MIX1, _MIX2, _MIX3)
_FMIX1, _FMIX2 = np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53)
_U1, _U32, _U33 = np.uint64(1), np.uint64(32), np.uint64(33)
_LOW32 = np.uint64(0xFFFFFFFF)
_UINT64S = {k: np.uint64(k) for k in range(1, 1025)}     # shingle sizes, bin counts


def _fmix(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser, in place: every input bit moves every output bit."""
    h ^= h >> _U33
    h *= _FMIX1
    h ^= h >> _U33
    h *= _FMIX2
    h ^= h >> _U33
    return h


def word_hashes(toks: list[str]) -> np.ndarray:
    """A stable 64-bit hash per token (BLAKE2b, the same in every process), uint64."""
    cache = _WORD_HASHES
    out = list(map(cache.get, toks))
    if None in out:
        if len(cache) > _WORD_CACHE:
            cache.clear()
        blake = hashlib.blake2b
        for i, h in enumerate(out):
            if h is None:
                w = toks[i]
                h = cache[w] = int.from_bytes(blake(w.encode(), digest_size=8).digest(), "little")
                out[i] = h
    return np.array(out, dtype=np.uint64)


def shingle_hashes(toks: list[str], k: int = SHINGLE_WORDS) -> np.ndarray:
    """The sorted unique 64-bit hashes of a token list's word k-grams (the whole list as one
    shingle when shorter than k, as `word_shingles`)."""
    if not toks:
        return np.empty(0, dtype=np.uint64)
    wh = word_hashes(toks)
    k = min(k, len(wh))
    n = len(wh) - k + 1
    h = wh[:n] * _MIX0
    for j in range(1, k):
        h += wh[j:j + n] * _MIXES[j]
    h += _UINT64S.get(k) or np.uint64(k)   # a 2-word text and a 4-word one never share a hash
    h = np.sort(_fmix(h))              # (np.unique hashes uint64 arrays, twenty times slower)
    return h[np.concatenate(([True], h[1:] != h[:-1]))]


_PROBES: dict[int, np.ndarray] = {}
_PROBE_DEPTH = 512                   # probes per empty bin before falling back to rotation
_PROBE_FIRST = 8                     # probes looked at first (the rest only for bins not found there)


def _probes(num_perm: int) -> np.ndarray:
    """Per bin, a fixed pseudo-random sequence of bins to borrow from when it is empty."""
    if num_perm not in _PROBES:
        seq = np.arange(num_perm * _PROBE_DEPTH, dtype=np.uint64) + np.uint64(SEED)
        _PROBES[num_perm] = (_fmix(seq * _MIX[2]) % np.uint64(num_perm)).astype(np.intp).reshape(
            num_perm, _PROBE_DEPTH)
    return _PROBES[num_perm]


def sketch(hashes: np.ndarray, num_perm: int = NUM_PERM) -> np.ndarray:
    """The signature of a set of shingle hashes: `num_perm` uint32 values (see above)."""
    sig = np.full(num_perm, _EMPTY, dtype=np.uint32)
    if not len(hashes):
        return sig                     # every empty text agrees with every other, as in datasketch
    bins = ((hashes >> _U32) % (_UINT64S.get(num_perm) or np.uint64(num_perm))).astype(np.intp)
    np.minimum.at(sig, bins, (hashes & _LOW32).astype(np.uint32))
    filled = np.zeros(num_perm, dtype=bool)
    filled[bins] = True
    empty = np.flatnonzero(~filled)
    if not len(empty):
        return sig
    # an empty bin borrows the value of the first filled bin along its own probe sequence
    # (densification with random probes, Shrivastava 2017: two texts borrow from the same bin
    # as often as they agree), mixed with the probe's depth; past the last probe, the next
    # filled bin to its right (rotation)
    # (the first _PROBE_FIRST probes of each empty bin first: with a third of the bins filled,
    # nearly every bin finds its source there; only the rest look along all _PROBE_DEPTH,
    # which gives the same first filled bin as looking along all of them at once)
    table = _probes(num_perm)
    rows = np.arange(len(empty))
    probes = table[empty, :_PROBE_FIRST]
    hit = filled[probes]
    depth = hit.argmax(axis=1)
    found = hit[rows, depth]
    source = probes[rows, depth]
    if not found.all():
        deeper = np.flatnonzero(~found)
        probes = table[empty[deeper]]
        hit = filled[probes]
        at = hit.argmax(axis=1)
        inner = np.arange(len(deeper))
        depth[deeper], found[deeper], source[deeper] = at, hit[inner, at], probes[inner, at]
    if not found.all():
        nz = np.flatnonzero(filled)
        lost = empty[~found]
        source[~found] = nz[np.searchsorted(nz, lost) % len(nz)]
        depth[~found] = _PROBE_DEPTH + (source[~found] - lost) % num_perm
    mixed = sig[source].astype(np.uint64) + (depth.astype(np.uint64) + _U1) * _MIX1
    sig[empty] = (_fmix(mixed) & _LOW32).astype(np.uint32)
    return sig


def text_sketch(text: str, num_perm: int = NUM_PERM) -> np.ndarray:
    """`sketch` of a text's word shingles (as `signature`, for the story index)."""
    return sketch(shingle_hashes(words(text)), num_perm)


def estimate(a: np.ndarray, b: np.ndarray) -> float:
    """The estimated Jaccard similarity of two signatures: the share of equal values."""
    return float(np.count_nonzero(a == b)) / len(a)


def signature(text: str, num_perm: int = NUM_PERM) -> MinHash:
    """The MinHash of a text's word shingles."""
    return minhash(shingles(text), num_perm)


def signature_bytes(m: MinHash) -> bytes:
    """A MinHash as bytes for the store: its hash values as `values_bytes` writes them."""
    return values_bytes(signature_values(m))


def signature_from_bytes(blob: bytes, num_perm: int = NUM_PERM) -> MinHash:
    """The MinHash of stored signature bytes (either width, `signature_values`)."""
    values = signature_values(blob, num_perm).astype(np.uint64)
    minhash_cls, scheme = _datasketch()
    return minhash_cls(seed=SEED, hashvalues=values, permutations=_permutations(len(values)), **scheme)


def signature_values(sig: bytes | MinHash, num_perm: int = NUM_PERM) -> np.ndarray:
    """The hash values of a signature (a MinHash or its stored bytes) as a uint32 array.

    All the story index keeps of an article's MinHash: 512 bytes at 128 permutations.
    datasketch's hash values are 32-bit (the affine32 scheme, and the legacy one masks
    to 32 bits). The store keeps them as little-endian uint32 (`values_bytes`); rows saved
    by earlier versions hold uint64, 8 bytes a value, and read the same: the blob's length
    against `num_perm` (the index's) tells the two apart.
    """
    if isinstance(sig, (bytes, bytearray, memoryview)):
        values = np.frombuffer(sig, dtype="<u4" if len(sig) == 4 * num_perm else "<u8")
    else:
        values = sig.hashvalues
    if values.dtype != np.uint32:
        if len(values) and int(values.max()) > 0xFFFFFFFF:
            raise ValueError("signature values wider than 32 bits")
        values = values.astype(np.uint32)
    return values


def values_bytes(values: np.ndarray) -> bytes:
    """Hash values as the store keeps them: little-endian uint32, 4 bytes a value (datasketch's
    `hashvalues` are uint64 holding 32-bit values; earlier versions stored those 8 bytes, and
    the signature was the widest column of a story's row, written once per article)."""
    return values.astype("<u4").tobytes()
