"""Article pages -> `Extracted` (text and metadata) with trafilatura.

Owns the extraction options. Pure: gets an HTML string, never fetches.
"""

from __future__ import annotations

import trafilatura

from monitor.models import Extracted


def extract(html: str, url: str = "") -> Extracted:
    """Text, title, author, date, site name, language and canonical URL of a page."""
    doc = trafilatura.bare_extraction(html, url=url or None, with_metadata=True)
    if doc is None:
        return Extracted()
    d = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    return Extracted(text=d.get("text") or "", title=d.get("title") or "", author=d.get("author") or "",
                     date=d.get("date") or "", sitename=d.get("sitename") or "",
                     language=d.get("language") or "", canonical_url="")


def article_text(extracted: Extracted | None, summary: str, content: str, min_chars: int = 200) -> tuple[str, str]:
    """The text rules see, and where it came from: the page, or the feed when the page gave too little."""
    if extracted is not None and len(extracted.text) >= min_chars:
        return extracted.text, "page"
    return (content or summary or (extracted.text if extracted else "")), "feed"
