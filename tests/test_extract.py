"""extract.extract, clean_text, language and the feed fallback, table-driven on small HTML."""

from __future__ import annotations

import re

import pytest

from monitor.extract.article import (
    MIN_PAGE_CHARS,
    article_text,
    choose_language,
    clean_text,
    detect_language,
    extract,
    normalise_language,
)
from monitor.models import Extracted

BODY_EN = ("The city council approved the new transport budget on Tuesday after a long debate. "
           "Officials said the money would go to buses, trams and safer crossings near schools. ") * 6
BODY_DE = ("Der Stadtrat hat am Dienstag nach einer langen Debatte den neuen Verkehrshaushalt beschlossen. "
           "Das Geld soll in Busse, Straßenbahnen und sichere Übergänge bei den Schulen fließen. ") * 6
BODY_FR = ("Le conseil municipal a adopté mardi le nouveau budget des transports après un long débat. "
           "L'argent ira aux bus, aux tramways et aux passages protégés près des écoles. ")


def page(body: str = BODY_EN, head: str = "", lang: str | None = "en") -> str:
    lang_attr = f' lang="{lang}"' if lang is not None else ""
    return (f"<!DOCTYPE html><html{lang_attr}><head><meta charset='utf-8'>{head}</head><body>"
            "<nav><a href='/'>Home</a> <a href='/news'>News</a></nav>"
            f"<article><h1>Council backs transport budget</h1><p>{body}</p></article>"
            "<footer>Copyright Example News</footer></body></html>")


@pytest.mark.parametrize("head, url, field, expected", [
    ("<title>Council backs transport budget | Example News</title>", "", "title",
     "Council backs transport budget"),
    ('<meta name="author" content="Jane Doe">', "", "author", "Jane Doe"),
    ('<meta property="article:published_time" content="2024-03-05T10:00:00Z">', "", "date", "2024-03-05"),
    ('<link rel="canonical" href="https://news.example.org/a/1">', "https://m.example.org/x", "canonical_url",
     "https://news.example.org/a/1"),
    ('<link rel="canonical" href="/story/42?ref=x">', "https://news.example.org/feed/item", "canonical_url",
     "https://news.example.org/story/42?ref=x"),
    ('<link rel="Canonical alternate" href="../b">', "https://ex.org/a/c/d", "canonical_url", "https://ex.org/a/b"),
    ('<link rel="canonical" href="javascript:alert(1)">', "https://ex.org/", "canonical_url", ""),
    ("", "https://ex.org/a", "canonical_url", ""),
    ('<meta property="og:site_name" content="Example News">', "", "sitename", "Example News"),
])
def test_metadata_fields(head, url, field, expected):
    assert getattr(extract(page(head=head), url), field) == expected


def test_text_is_the_article_without_navigation():
    ex = extract(page(), "https://news.example.org/a/1")
    assert "buses, trams and safer crossings" in ex.text
    assert "Home" not in ex.text and "Copyright Example News" not in ex.text


@pytest.mark.parametrize("lang, head, body, expected", [
    ("fr", "", BODY_FR, "fr"),                        # declared, short text: the declaration
    ("pt-BR", "", BODY_FR, "pt"),                     # tag normalised; short text trusts it
    (None, '<meta http-equiv="Content-Language" content="it">', BODY_FR, "it"),
    (None, '<meta property="og:locale" content="es_ES">', BODY_FR, "es"),
    (None, "", BODY_FR, "fr"),                        # nothing declared: detected
    ("en", "", BODY_DE, "de"),                        # long text declared wrongly: the detector decides
])
def test_language(lang, head, body, expected):
    assert extract(page(body=body, head=head, lang=lang)).language == expected


@pytest.mark.parametrize("tag, expected", [
    ("en-US", "en"), ("pt_BR", "pt"), ("EN", "en"), ("de, en", "de"), ("", ""), ("x", ""), ("english!", ""),
])
def test_normalise_language(tag, expected):
    assert normalise_language(tag) == expected


def test_language_choice_and_detector_limits():
    assert detect_language("too short") == ""
    assert detect_language(BODY_DE) == "de"
    assert choose_language("fr", "kurz") == "fr"
    assert choose_language("", "") == ""


@pytest.mark.parametrize("data, words", [
    ("not html at all, just a sentence", {"not", "html", "just", "a", "sentence", "at", "all"}),
    ("<html><body><div><p>unclosed <b>tags <i>everywhere", {"unclosed", "tags", "everywhere"}),
    ("<<<>>><!-- --><![CDATA[", set()),
    ("<html><body></body></html>", set()),
])
def test_broken_html_never_raises_and_keeps_only_its_own_words(data, words):
    ex = extract(data, "https://ex.org/x")
    assert isinstance(ex, Extracted)
    assert set(re.findall(r"\w+", ex.text)) <= words


@pytest.mark.parametrize("data", [
    "", "   \n ",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00" + bytes(range(256)) * 20,
    "%PDF-1.7\n\x00\x01\x02\x03 binary \x04\x05" * 50,
    "\ufffd" * 5000,
])
def test_empty_or_binary_input_gives_empty_extracted(data):
    ex = extract(data, "https://ex.org/x")
    assert isinstance(ex, Extracted)
    assert ex.text == ""


def test_bytes_input_is_decoded():
    assert "safer crossings" in extract(page().encode("utf-8")).text


@pytest.mark.parametrize("line, removed", [
    ("Read more: Council approves budget", True),
    ("READ MORE: China plague outbreak confirmed", True),
    ("Related: 15 Amazing Images of Stars", True),
    ("You may also like...", True),
    ("DON'T MISS", True),
    ("Plane passengers quarantined after outbreak [NEWS]", True),
    ("12 comments", True),
    ("Comments", True),
    ("Filed under: Politics |", True),
    ("Follow The Times Opinion section on Facebook, Twitter and Instagram.", True),
    ("Tempo de leitura: 2 minutos", True),
    ("Officials said more money would go to buses.", False),
    ("Related reporting suggests the plan will pass.", False),
    ("Also, the mayor said the budget was balanced.", False),
])
def test_clean_text_drops_whole_boilerplate_lines_only(line, removed):
    text = f"First paragraph of the article.\n{line}\nLast paragraph of the article."
    assert (line not in clean_text(text)) is removed
    assert clean_text(text).startswith("First paragraph") and clean_text(text).endswith("article.")


def test_clean_text_keeps_long_lines_that_start_like_boilerplate():
    line = "Read more: " + "the council said the plan would cost more than expected and take years. " * 4
    assert clean_text(line) == line.strip()


FULL = "word " * 300
TEASER = "Subscribe to read the rest of this story."


@pytest.mark.parametrize("page_text, summary, content, expected", [
    (FULL, "A short summary.", "", (FULL.strip(), "page")),              # a good page wins
    (TEASER, "A summary of the story that is longer than the teaser.", "",
     ("A summary of the story that is longer than the teaser.", "feed")),  # paywall teaser
    (None, "The feed summary.", "", ("The feed summary.", "feed")),       # page not fetched / not HTML
    ("", "summary", "The full content from the feed.", ("The full content from the feed.", "feed")),
    (FULL, "", FULL * 2, ((FULL * 2).strip(), "feed")),                    # feed carries much more
    (FULL, "", FULL + "extra", (FULL.strip(), "page")),                    # similar length: page
    ("Short page text, but more than the feed.", "tiny", "",
     ("Short page text, but more than the feed.", "page")),
    (None, "", "", ("", "page")),
])
def test_article_text_fallback(page_text, summary, content, expected):
    extracted = None if page_text is None else Extracted(text=page_text)
    assert article_text(extracted, summary, content) == expected


def test_article_text_threshold_is_configurable():
    text = "x" * 100
    assert article_text(Extracted(text=text), "s" * 120, "")[1] == "feed"
    assert article_text(Extracted(text=text), "s" * 120, "", min_chars=50)[1] == "page"
    assert MIN_PAGE_CHARS > 100
