"""Pure dedupe keys: canonical URLs, exact fingerprints, material-update decisions (tables)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.stories.dedupe import (
    canonical_url,
    is_material_update,
    shingles,
    signature,
    signature_bytes,
    signature_from_bytes,
    site_of,
    text_fingerprint,
)

CANONICAL = [
    # (url, page canonical, expected)
    ("HTTP://Example.COM/a/b", None, "http://example.com/a/b"),
    ("http://example.com:80/a", None, "http://example.com/a"),
    ("https://example.com:443/a", None, "https://example.com/a"),
    ("https://example.com:8443/a", None, "https://example.com:8443/a"),
    ("https://example.com/a#comments", None, "https://example.com/a"),
    ("https://example.com/a?b=2&a=1", None, "https://example.com/a?a=1&b=2"),
    ("https://example.com/a?utm_source=rss&utm_medium=feed&utm_campaign=x&id=7", None,
     "https://example.com/a?id=7"),
    ("https://example.com/a?fbclid=IwAR0&gclid=Cj0&mc_cid=1&mc_eid=2&igshid=3", None, "https://example.com/a"),
    ("https://example.com/a?ref=twitter&ref_src=twsrc%5Etfw&page=2", None, "https://example.com/a?page=2"),
    ("https://example.com/a?smid=tw-share&ocid=msn&cmpid=rss&at_medium=x", None, "https://example.com/a"),
    ("https://example.com", None, "https://example.com/"),
    ("  https://example.com/a  ", None, "https://example.com/a"),
    # rel=canonical: honoured on the same registrable site, also across subdomains
    ("https://example.com/a?utm_source=x", "https://example.com/story/1", "https://example.com/story/1"),
    ("https://m.example.com/a", "https://www.example.com/a", "https://www.example.com/a"),
    ("https://news.bbc.co.uk/a", "https://www.bbc.co.uk/news/a#top", "https://www.bbc.co.uk/news/a"),
    ("https://example.com/a", "https://www.example.com/a?utm_source=x", "https://www.example.com/a"),
    # ... and ignored when it points to another site, is relative, or is not http(s)
    ("https://outlet-b.com/copy?utm_source=x", "https://outlet-a.com/original", "https://outlet-b.com/copy"),
    ("https://example.co.uk/a", "https://other.co.uk/a", "https://example.co.uk/a"),
    ("https://example.com/a", "/story/1", "https://example.com/a"),
    ("https://example.com/a", "javascript:alert(1)", "https://example.com/a"),
    ("https://example.com/a", "ftp://example.com/a", "https://example.com/a"),
    ("https://example.com/a", "", "https://example.com/a"),
    ("https://example.com/a", "http://example.com:99999/x", "https://example.com/a"),
    # loopback publishers (the feed farm): no public suffix, so the host itself is the site
    ("http://127.0.0.1:8800/outlet/3/x.html?utm_source=feed", "http://127.0.0.1:8800/outlet/3/x.html",
     "http://127.0.0.1:8800/outlet/3/x.html"),
    ("http://127.0.1.1:8800/x", "http://127.0.1.2:8800/x", "http://127.0.1.1:8800/x"),
    # not a web URL at all: kept as it is, so it still works as a key
    ("urn:uuid:1234", None, "urn:uuid:1234"),
    ("mailto:a@example.com", None, "mailto:a@example.com"),
]


@pytest.mark.parametrize(("url", "page", "expected"), CANONICAL)
def test_canonical_url(url, page, expected):
    assert canonical_url(url, page) == expected


def test_canonical_url_is_idempotent():
    for url, page, _ in CANONICAL:
        once = canonical_url(url, page)
        assert canonical_url(once) == once


@given(st.text(max_size=60), st.one_of(st.none(), st.text(max_size=40)))
def test_canonical_url_never_raises(tail, page):
    for url in ("https://example.com/" + tail, tail):
        assert isinstance(canonical_url(url, page), str)


FINGERPRINTS_EQUAL = [
    (("A", "Hello,  world!\n\nSecond para."), ("B", "hello world second para")),
    (("", "Café “quoted” text"), ("", "café \"quoted\" text")),
    (("Same title", ""), ("same   title!", "")),
]
FINGERPRINTS_DIFFERENT = [
    (("T", "hello world"), ("T", "hello worlds")),
    (("T", "one two three"), ("T", "three two one")),
    (("T1", ""), ("T2", "")),
]


@pytest.mark.parametrize(("a", "b"), FINGERPRINTS_EQUAL)
def test_fingerprint_equal_for_exact_copies(a, b):
    assert text_fingerprint(*a) == text_fingerprint(*b)


@pytest.mark.parametrize(("a", "b"), FINGERPRINTS_DIFFERENT)
def test_fingerprint_differs(a, b):
    assert text_fingerprint(*a) != text_fingerprint(*b)


BASE = ("The regional council approved the harbour expansion on Tuesday after a four hour debate. "
        "Supporters said the project would create two hundred jobs within three years. "
        "Opponents warned that dredging would damage the wetlands north of the town. "
        "The vote was eleven to six, with two abstentions. "
        "Construction is due to begin next spring if the environmental permit is granted.")

UPDATES = [
    # (old, new, material at 0.8?)
    (BASE, BASE, False),
    (BASE, BASE.replace("Tuesday", "Tuesday evening"), False),                   # a typo-level edit
    (BASE, BASE + " Update: the mayor said she would appeal.", False),           # one line appended
    (BASE, BASE.replace("eleven to six", "twelve to five").replace("four hour", "six hour")
     .replace("two hundred", "three hundred"), True),                            # facts changed
    (BASE, "The council postponed the harbour vote. " + BASE.split(". ", 3)[-1], True),  # rewritten
    (BASE, "", False),                                                           # text lost is not news
    ("", BASE, True),                                                            # text found is
]


@pytest.mark.parametrize(("old", "new", "material"), UPDATES)
def test_is_material_update(old, new, material):
    assert is_material_update(old, new, 0.8) is material


def test_material_update_threshold_is_configurable():
    new = BASE + " Update: the mayor said she would appeal."
    assert not is_material_update(BASE, new, 0.8)
    assert is_material_update(BASE, new, 0.99)


def test_shingles_of_short_text():
    assert shingles("Breaking news") == {"breaking news"}
    assert shingles("") == set()
    assert len(shingles("a b c d e")) == 2


def test_signature_roundtrip_and_estimate():
    a = signature(BASE)
    again = signature_from_bytes(signature_bytes(a))
    assert again.jaccard(a) == 1.0
    assert signature(BASE.upper()).jaccard(a) == 1.0
    assert signature("Completely unrelated words about a football match and its fans.").jaccard(a) < 0.1


def test_sketch_values_are_the_stored_format():
    """Stored signatures only agree with new ones computed the same way: the values of a few
    texts of every size (empty, shorter than a shingle, fewer shingles than bins, more) are
    pinned, so a change that is meant to be faster cannot quietly change them."""
    import hashlib

    from monitor.stories.dedupe import shingle_hashes, sketch, words
    texts = ["", "one", "two words", "NATO ministers met in Brussels on Tuesday",
             " ".join(f"w{i}" for i in range(400)), "Kaja Kallas said the Halvorsen Accord " * 20]
    h = hashlib.sha256()
    for t in texts:
        for n in (64, 128, 256):
            h.update(sketch(shingle_hashes(words(t)), n).tobytes())
    assert h.hexdigest() == "3c7f1822310e1a9a329169a01c84c2f39c59d2567cc6b9bc94f5cf46c0851d73"


def _site_by_split(url: str) -> str:
    """`site_of` as it was: the full urlsplit of every URL (the module's own slow path, which
    `site_of` takes where the fast one could read a URL differently)."""
    from monitor.stories.dedupe import _split_site
    return _split_site(url)


SITE_URLS = ["https://news.bbc.co.uk/x", "http://example.com", "https://a.example.org:8443/p?q#f",
             "https://user:pw@www.example.co.uk/a", "HTTPS://Example.COM/x", " https://example.com/x",
             "https://exa\tmple.com/x", "https://example.com\n/x", "https://[::1]/x", "https://[::1/x",
             "https://127.0.0.1:8080/x", "https://ＥＸＡＭＰＬＥ.com/x", "https://example.com?x=/y", "https://#x",
             "https:///x", "urn:uuid:1234", "javascript:alert(1)", "https://a.b.c.example.co.uk/x#via=f.com",
             "http://example.com:bad/x", "https://example.com.\r/x", "ftp://example.com/x", ""]


@pytest.mark.parametrize("url", SITE_URLS)
def test_site_of_reads_the_authority_as_urlsplit_does(url):
    assert site_of(url) == _site_by_split(url)


@given(st.lists(st.sampled_from(["http://", "https://", "HTTP://", " ", "a.example.co.uk", "news.bbc.co.uk",
                                 "user:pw@", ":8080", ":x", "[::1]", "[", "]", "/", "?", "#", "\t", "\n", "\r",
                                 "x", "é", "127.0.0.1", ".", "ＡＢ", "@"]), min_size=1, max_size=7).map("".join))
def test_site_of_equals_the_full_split_on_any_url(url):
    assert site_of(url) == _site_by_split(url)
