"""The records of a digest: `Digest`, its `DigestItem`s (one per story), rule groups, sources, feed alerts.

Owns these frozen records and what they say about themselves (section keys, the notes of
a split digest's part); moved out of deliver/digest.py, which builds them and still
re-exports them. Pure. Must not group, order or render.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from monitor.deliver.snippets import Segment


@dataclass(frozen=True)
class Source:
    source: str
    url: str
    title: str = ""                       # related coverage: the other outlet's own headline


@dataclass(frozen=True)
class DigestItem:
    """One story in a digest: its first source, the rules it matched and who else reported it."""

    key: str                              # story key: "story:<id>" or "article:<id>"
    title: str
    url: str
    source: str
    published: datetime | None
    priority: str
    rules: tuple[str, ...]
    title_segments: tuple[Segment, ...]
    snippet: tuple[Segment, ...]
    from_feed: bool                       # text_source == "feed": shown "from the feed summary"
    also_reported_by: tuple[Source, ...] = ()
    related_coverage: tuple[Source, ...] = ()   # other outlets' own reports of the event, with headlines
    outbox_ids: tuple[int, ...] = ()
    updated: bool = False                 # re-sent because the article was materially edited
    rule_titles: tuple[str, ...] = ()     # the titles of `rules`, same order


@dataclass(frozen=True)
class RuleGroup:
    """A section: the items of one priority whose first rule is `rule`."""

    rule: str
    title: str
    items: tuple[DigestItem, ...]
    continued: bool = False               # the section began in an earlier part
    priority: str = "normal"

    @property
    def key(self) -> str:
        return section_key(self.priority, self.rule)


def section_key(priority: str, rule: str) -> str:
    return f"{priority}:{rule}"


@dataclass(frozen=True)
class FeedAlert:
    """A feed that has been failing for longer than `fetch.feed_alert_after_hours`."""

    url: str
    name: str
    failing_since: datetime
    failures: int
    error: str


@dataclass(frozen=True)
class Digest:
    """What one delivery (or one part of it) carries to one channel."""

    channel: str
    created: datetime
    timezone: str
    groups: tuple[RuleGroup, ...]
    kind: str = "digest"                  # "digest" or "alert"
    more: int = 0                         # stories left pending for the next digest
    delivery_id: str = ""
    subject: str = field(default="")
    feed_alerts: tuple[FeedAlert, ...] = ()   # scheduled digests only: feeds failing too long
    part: int = 1                         # this message is part `part` of `parts`
    parts: int = 1
    total_items: int = 0                  # stories in the whole delivery (all parts)

    @property
    def items(self) -> tuple[DigestItem, ...]:
        return tuple(i for g in self.groups for i in g.items)

    @property
    def outbox_ids(self) -> tuple[int, ...]:
        return tuple(o for i in self.items for o in i.outbox_ids)

    @property
    def part_label(self) -> str:
        return f"part {self.part} of {self.parts}" if self.parts > 1 else ""

    @property
    def rest_note(self) -> str:
        """Where the items not in this message went: the next part, and/or the next digest."""
        notes = []
        if self.part < self.parts:
            notes.append(f"continued in part {self.part + 1} of {self.parts}")
        if self.more and self.part == self.parts:
            notes.append(f"and {self.more} more in the next digest")
        return "; ".join(notes)
