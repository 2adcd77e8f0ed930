"""What every chat format shows of an item, cut to size: shared by slack, discord, teams, mattermost.

Owns the `Format` record, `fit` (cut plain text at a word so that its *escaped* form stays within a limit) and the
plain pieces of an item line (source, time, badges, "also reported by", other rules). Pure.
Must not build a payload.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from monitor.deliver.digest import Digest, DigestItem, local_time, safe_href
from monitor.deliver.formats import limits
from monitor.deliver.textcut import cut_words


@dataclass(frozen=True)
class Format:
    """How one service's messages are built (`render`) and checked against its limits (`fits`)."""

    render: Callable[[Digest], dict[str, Any]]
    fits: Callable[[dict[str, Any]], bool]
    chat: bool = True            # a chat service: paced at one message per second by default


def _same(s: str) -> str:
    return s


@lru_cache(maxsize=32768)
def fit(text: str, limit: int, escape: Callable[[str], str] = _same) -> str:
    """escape(cut_words(text)) within `limit` characters, cutting further while escaping grows it.

    Cached: the packer renders the same items several times while it measures parts."""
    budget = limit
    while True:
        out = escape(cut_words(text, budget))
        if len(out) <= limit or budget <= 1:
            return out[:limit] if len(out) > limit else out
        budget -= max(1, len(out) - limit)


def link_url(i: DigestItem) -> str:
    """The item's link if it can be sent as one (http(s), not absurdly long), else ""."""
    href = safe_href(i.url)
    return href if href != "#" and len(href) <= limits.URL_CHARS else ""


def details(d: Digest, i: DigestItem, esc: Callable[[str], str]) -> list[str]:
    """The escaped pieces after an item's title: source, time, flags, other outlets and rules."""
    out = [fit(i.source, limits.SOURCE_CHARS, esc)] if i.source else []
    if i.published:
        out.append(local_time(i.published, d.timezone))
    if i.priority == "high":
        out.append("HIGH")
    if i.updated:
        out.append("updated")
    if i.also_reported_by:
        out.append("also " + fit(", ".join(s.source for s in i.also_reported_by[:5]), limits.SOURCE_CHARS, esc))
    if len(i.rules) > 1:
        out.append("also matches " + fit(", ".join(i.rule_titles[1:]), limits.SOURCE_CHARS, esc))
    return out


def health_lines(d: Digest, esc: Callable[[str], str]) -> list[str]:
    return [f"{fit(a.name or a.url, limits.SOURCE_CHARS, esc)}: failing since "
            f"{local_time(a.failing_since, d.timezone)} ({a.failures} attempts): {fit(a.error, 200, esc)}"
            for a in d.feed_alerts]
