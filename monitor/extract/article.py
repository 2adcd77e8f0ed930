"""Article pages -> `Extracted` (text and metadata) with trafilatura; the feed fallback.

Owns the extraction options (chosen by measurement, see docs/extraction.md and
bench/extraction.py), the post-cleaning of boilerplate lines, language detection
and the choice between page text and feed text (`article_text`).
Pure: gets an HTML string, never fetches, never raises on bad input.
The process pool that runs `extract` off the event loop is `monitor.extract.pool`.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from monitor.models import Extracted

if TYPE_CHECKING:
    from lxml.html import HtmlElement

log = logging.getLogger(__name__)

# Measured on the 181-page benchmark (docs/extraction.md): precision mode alone
# F1 0.964; with the recall second pass and the line cleaning below, 0.971.
PRECISION_PASS: dict[str, Any] = {"favor_precision": True, "include_comments": False, "include_tables": True}
# Precision mode sometimes cuts the article body down to a stub (one page in the
# benchmark: 260 chars kept of ~2,400). When its result is short, a cheap recall pass
# runs too and wins if precision kept less than half of what recall found.
RECALL_PASS: dict[str, Any] = {"favor_recall": True, "fast": True, "include_comments": False, "include_tables": True}
SECOND_PASS_BELOW_CHARS = 2000
SECOND_PASS_RATIO = 0.5

# Whole lines that are navigation or promotion, not article text. Generic news
# furniture only (no site names); each pattern must match the entire line, and
# only lines shorter than _CLEAN_MAX_LINE are considered, so body sentences stay.
_BOILERPLATE_LINE = re.compile(
    r"^\s*(?:"
    r"(?:read|see) (?:more|also)\s*:.*"
    r"|(?:related(?: posts?| articles?| stories)?|more|also)\s*:.*"
    r"|(?:you (?:may|might) also like|don'?t miss|most read(?: in [\w ]+)?|recommended(?: for you)?)\W*"
    r"|.{3,120}\s\[(?:insight|video|news|reaction|warning|pictures|poll|gallery)\]\W*"
    r"|\d*\s*comments?"
    r"|(?:tempo de leitura|reading time|lesezeit|read time)\s*:?.{0,20}"
    r"|(?:filed under|tags?|categories)\s*:.*"
    r"|follow .{0,80} on (?:facebook|twitter|instagram|youtube).*"
    r"|like this story\?.*|share (?:this|on) .{0,30}|tell us what you think.*"
    r")\s*$",
    re.IGNORECASE,
)
_CLEAN_MAX_LINE = 200

# Language: on the benchmark 4 of 158 pages declare a wrong `<html lang>` (German blog
# posts declared "en", English articles declared "de"), and py3langid is right on all
# four; so with at least _TRUST_DETECTOR_CHARS of text the detector decides, below
# that the declaration does, then the detector (not at all under _DETECT_MIN_CHARS).
_DETECT_MAX_CHARS = 2000
_DETECT_MIN_CHARS = 40
_TRUST_DETECTOR_CHARS = 1000
_LANG_TAG = re.compile(r"^([a-zA-Z]{2,3})(?:[-_][a-zA-Z0-9]+)*$")
_LANG_META_XPATH = (
    '//meta[translate(@http-equiv, "CONTENTLANGUAG", "contentlanguag")="content-language"]/@content'
    ' | //meta[@property="og:locale"]/@content'
    ' | //meta[translate(@name, "LANGUAGEDC.", "languagedc.")="language"]/@content'
    ' | //meta[translate(@name, "LANGUAGEDC.", "languagedc.")="dc.language"]/@content'
)

# The feed fallback (article_text): below MIN_PAGE_CHARS (~70 words) a page's text is
# a teaser, a consent/paywall stub or an error page; and when the feed carries
# FEED_LONGER_RATIO times more text than the page gave, the page is a teaser of it.
MIN_PAGE_CHARS = 400
FEED_LONGER_RATIO = 1.5


def extract(html: str | bytes, url: str = "", published: bool = False) -> Extracted:
    """Text, title, author, date, site name, language and canonical URL of a page; with
    `published`, also its publication time (`published_time`: the commands that date a file
    by it ask; the daemon dates an article by its feed item and does not pay for it).

    Empty, binary or unparseable input gives an empty `Extracted`; this never raises.
    """
    try:
        return _extract(html, url, published)
    except Exception:  # a page must never take the pipeline down
        log.warning("extraction failed for %s", url or "<no url>", exc_info=True)
        return Extracted()


def _extract(html: str | bytes, url: str, published: bool = False) -> Extracted:
    # imported here, not at the top: the daemon's main process and a worker that only parses
    # feeds and matches never load trafilatura and lxml (about 40 MB and half a second each)
    import trafilatura

    if isinstance(html, bytes):
        html = html.decode("utf-8", errors="replace")
    if not html or not html.strip() or _looks_binary(html):
        return Extracted()
    tree = trafilatura.load_html(html)
    if tree is None:
        return Extracted()
    canonical = canonical_url(tree, url)
    declared = declared_language(tree)
    # trafilatura copies the tree before cleaning it, so passing ours is safe.
    doc: Any = trafilatura.bare_extraction(tree, url=url or None, with_metadata=True, **PRECISION_PASS)
    text = (doc.text or "") if doc is not None else ""
    if len(text) < SECOND_PASS_BELOW_CHARS:
        second = trafilatura.extract(html, url=url or None, **RECALL_PASS) or ""
        if len(text) < SECOND_PASS_RATIO * len(second):
            text = second
    text = clean_text(text)
    language = choose_language(declared, text)
    if doc is None:
        return Extracted(text=text, canonical_url=canonical, language=language)
    return Extracted(
        text=text,
        title=(doc.title or "").strip(),
        author=(doc.author or "").strip(),
        date=doc.date or "",
        published=published_time(tree, doc.date or "") if published else "",
        sitename=(doc.sitename or "").strip(),
        language=language,
        canonical_url=canonical,
    )


def _looks_binary(html: str) -> bool:
    """True for images, PDFs and other non-text bytes that were decoded as text."""
    head = html[:4096]
    if "\x00" in head:
        return True
    control = sum(1 for ch in head if ord(ch) < 32 and ch not in "\t\n\r\f")
    return control > len(head) // 20 or head.count("\ufffd") > len(head) // 10


def clean_text(text: str) -> str:
    """The text without whole lines of news furniture ("Read more: ...", "12 comments")."""
    lines = [line for line in text.split("\n")
             if len(line) >= _CLEAN_MAX_LINE or not _BOILERPLATE_LINE.match(line)]
    return "\n".join(lines).strip()


def canonical_url(tree: HtmlElement, page_url: str = "") -> str:
    """`<link rel="canonical">` resolved against the page URL; "" when absent or not http(s)."""
    for link in tree.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        href = (link.get("href") or "").strip()
        if "canonical" in rels and href:
            resolved = urljoin(page_url, href) if page_url else href
            if urlsplit(resolved).scheme in ("http", "https"):
                return resolved
    return ""


# where a page states its publication time, most specific first (trafilatura's `date` is the day only)
_ITEMPROP = 'contains(concat(" ", normalize-space(@itemprop), " "), " datePublished ")'
_TIME_XPATHS = (
    '//meta[@property="article:published_time" or @name="article:published_time"'
    ' or @property="og:published_time" or @property="og:article:published_time"]/@content',
    f'//meta[{_ITEMPROP}]/@content | //*[{_ITEMPROP}]/@datetime',
    '//script[@type="application/ld+json"]/text()',
    '//time/@datetime',
)
_LD_PUBLISHED = re.compile(r'"datePublished"\s*:\s*"([^"]{10,40})"')
_DAY = timedelta(days=1)


def published_time(tree: HtmlElement, day: str) -> str:
    """The page's publication time to the minute or second, as its metadata states it
    (article:published_time, datePublished in a meta or JSON-LD, a `<time datetime>`; ISO 8601 or
    RFC 2822), when that lies within a day of `day` (the date trafilatura found, "2025-06-25",
    which may be the publisher's local day or the day in the URL); else `day` itself. A time
    without an offset is read as UTC. Returned as ISO 8601."""
    try:
        near = datetime.fromisoformat(day).replace(tzinfo=UTC) if day else None
    except ValueError:
        near = None
    for xpath in _TIME_XPATHS:
        for value in tree.xpath(xpath):
            value = str(value)
            for found in (_LD_PUBLISHED.findall(value) if xpath.startswith("//script") else (value,)):
                stamp = _timestamp(found)
                if stamp is not None and (near is None or near - _DAY <= stamp < near + 2 * _DAY):
                    return stamp.isoformat()
    return day


def _timestamp(value: str) -> datetime | None:
    """A date with its time of day ("2025-06-25T14:05:00+02:00", "Wed, 25 Jun 2025 14:05 GMT"),
    in UTC when no offset is given; None for a date alone or anything else."""
    value = value.strip()
    if len(value) < 16:
        return None
    try:
        if value[:4].isdigit():
            if value[10:11] not in ("T", " "):
                return None
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        else:
            dt = parsedate_to_datetime(value)
    except (ValueError, TypeError, IndexError):
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def normalise_language(tag: str) -> str:
    """"en-US", "pt_BR", "EN" -> "en", "pt", "en"; "" for anything that is not a language tag."""
    m = _LANG_TAG.match((tag or "").strip().split(",")[0].strip())
    return m.group(1).lower() if m else ""


def declared_language(tree: HtmlElement) -> str:
    """The language the page says it is in: `<html lang>`, then content-language/og:locale metas."""
    root = tree.getroottree().getroot()
    for value in (root.get("lang"), root.get("xml:lang"), root.get("{http://www.w3.org/XML/1998/namespace}lang")):
        lang = normalise_language(value or "")
        if lang:
            return lang
    for value in tree.xpath(_LANG_META_XPATH):
        lang = normalise_language(str(value))
        if lang:
            return lang
    return ""


def choose_language(declared: str, text: str) -> str:
    """The detected language for long texts, else the declared one, else the detected one."""
    if len(text) >= _TRUST_DETECTOR_CHARS:
        return detect_language(text) or declared
    return declared or detect_language(text)


def detect_language(text: str) -> str:
    """ISO 639-1 code guessed from the text with py3langid; "" for too little text."""
    sample = text[:_DETECT_MAX_CHARS]
    if len(sample.strip()) < _DETECT_MIN_CHARS:
        return ""
    import py3langid  # the model loads on first use (~1 s); workers do it in warm_up()

    lang, _score = py3langid.classify(sample)
    return lang or ""


def warm_up(language: bool = True) -> None:
    """Load trafilatura's (and py3langid's, ~1.5 s) lazy state, so the first real page is not slow."""
    page = ("<html lang='en'><head><title>t</title></head><body><article><p>"
            + "This is a short warm-up article with enough words to be extracted. " * 8
            + "</p></article></body></html>")
    extract(page, "https://example.org/warm-up")
    if language:
        detect_language("Ceci est un texte assez long pour que le détecteur se charge.")


MAX_TITLE_CHARS = 1000     # a title longer than this is not a title; cut, like the text


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at a word boundary when one is near, marked with …"""
    if len(text) <= limit:
        return text
    keep = limit - 1                          # room for the ellipsis
    cut = keep if text[keep].isspace() else text.rfind(" ", max(0, keep - 200), keep)
    return text[:cut if cut > 0 else keep].rstrip() + "…"


def article_text(extracted: Extracted | None, entry_summary: str = "", entry_content: str = "",
                 min_chars: int = MIN_PAGE_CHARS) -> tuple[str, str]:
    """(text, text_source): the page's text ("page") or the feed's own content/summary ("feed").

    `extracted` is None when the page could not be fetched or was not HTML. The feed wins
    when the page text is shorter than `min_chars` (teaser, paywall, error page) and the
    feed has at least as much, or when the feed carries FEED_LONGER_RATIO times more text.
    """
    page = (extracted.text if extracted is not None else "").strip()
    content, summary = (entry_content or "").strip(), (entry_summary or "").strip()
    feed = content if len(content) >= len(summary) else summary
    if len(page) >= min_chars and len(feed) <= FEED_LONGER_RATIO * len(page):
        return page, "page"
    if feed and len(feed) >= len(page):
        return feed, "feed"
    return page, "page"
