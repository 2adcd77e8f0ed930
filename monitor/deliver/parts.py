"""Splitting one digest into the fewest ordered messages that each fit their service.

Owns `Prepared` (one message of a delivery: the outbox rows it carries, its bytes and its
idempotency key) and `split`, the order-preserving packer: the longest run of items that
fits becomes part 1, the next run part 2, ..., each measured with the format's own renderer
and limit check; sections carry on across parts ("continued"), every part is labelled
"part N of M" and says where the rest went. `part_key` names the idempotency key of a part.
Pure. Must not send, touch the store or decide what goes into a delivery.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from monitor.deliver.digest import Digest, DigestItem, Segment, part_digest, section_key

log = logging.getLogger(__name__)
T = TypeVar("T")

PLACEHOLDER_PARTS = 9999      # measured with the longest label a real split can get


@dataclass(frozen=True)
class Prepared:
    """One message of a delivery, decided at the first attempt and re-sent as is on a retry."""

    outbox_ids: tuple[int, ...]
    payload: bytes
    key: str                      # idempotency key: the delivery id, or "<id>.<n>" for part n of several
    label: str = ""               # "part 2 of 3", or "" for a single message
    items: int = 0                # stories in this message


def plain_digest(d: Digest) -> Digest:
    """`d` with every item reduced to printable ASCII title, source and link, no snippet: the
    fallback when laying out the real digest failed on some publisher text."""
    def flat(s: str) -> str:
        return "".join(ch if " " <= ch <= "~" else "?" for ch in s)
    groups = tuple(replace(g, title=flat(g.title), items=tuple(
        replace(i, title=flat(i.title) or i.url, source=flat(i.source), title_segments=(Segment(flat(i.title)),),
                snippet=(), also_reported_by=(), rule_titles=tuple(flat(t) for t in i.rule_titles))
        for i in g.items)) for g in d.groups)
    return replace(d, groups=groups, subject=flat(d.subject), feed_alerts=())


def part_key(delivery_id: str, part: int, parts: int) -> str:
    return delivery_id if parts == 1 else f"{delivery_id}.{part}"


def _sections_before(items: Sequence[DigestItem], start: int) -> set[str]:
    return {section_key(i.priority, i.rules[0]) for i in items[:start]}


def split(d: Digest, render: Callable[[Digest], T], fits: Callable[[T], bool]) -> list[tuple[Digest, T]]:
    """`d` as [(part digest, rendered payload)], in order, each payload within `fits`.

    An item that does not fit even alone is sent alone (the formats cut every field to its
    limit, so this means a limit a format cannot meet; it is logged).
    """
    whole = render(d)
    if fits(whole):
        return [(d, whole)]
    items = d.items
    n = len(items)

    def attempt(start: int, count: int) -> bool:
        keys = {i.key for i in items[start:start + count]}
        probe = part_digest(d, keys, PLACEHOLDER_PARTS - 1, PLACEHOLDER_PARTS, _sections_before(items, start))
        return fits(render(probe))

    chunks: list[tuple[int, int]] = []
    start, guess = 0, 1
    while start < n:
        chunks.append((start, _longest(attempt, start, n - start, guess)))
        guess = chunks[-1][1]
        start += guess
    for _ in range(3):
        out = _finish(d, items, chunks, render)
        bad = [k for k, (_, payload) in enumerate(out) if not fits(payload) and chunks[k][1] > 1]
        if not bad:
            break
        for k in reversed(bad):                    # rare: the real label outgrew the placeholder
            s, c = chunks[k]
            chunks[k:k + 1] = [(s, c - 1), (s + c - 1, 1)]
    for part, (_, payload) in enumerate(out, 1):
        if not fits(payload):
            log.warning("delivery %s part %d: one item does not fit the service's limits; sent alone",
                        d.delivery_id, part)
    return out


def _longest(attempt: Callable[[int, int], bool], start: int, left: int, guess: int) -> int:
    """The largest count in [1, left] with attempt(start, count) true (monotone), at least 1."""
    lo = 0
    hi = min(max(guess, 1), left)
    while attempt(start, hi):                       # grow until it stops fitting
        lo = hi
        if hi == left:
            return hi
        hi = min(hi * 2, left)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if attempt(start, mid):
            lo = mid
        else:
            hi = mid
    return max(lo, 1)


def _finish(d: Digest, items: Sequence[DigestItem], chunks: list[tuple[int, int]],
            render: Callable[[Digest], T]) -> list[tuple[Digest, T]]:
    out = []
    for part, (s, c) in enumerate(chunks, 1):
        sub = part_digest(d, {i.key for i in items[s:s + c]}, part, len(chunks), _sections_before(items, s))
        out.append((sub, render(sub)))
    return out
