"""Proximity in bounded time: NEAR/n, ONEAR/n, NEAR/s, NEAR/p and NOT NEAR/... .

Owns the position arithmetic of the proximity operators. Each side's occurrences are a
list sorted by (field, first token, last token); the sides are merged field by field
with binary search over the other side's sorted starts or ends, so the cost is
O((|A| + |B|) log |B|) per operator and article, never |A| x |B| (issue 15: one article
repeating "NATO" and "more European" took 45 s with the pairwise loop). Only when both
sides are tiny (at most SMALL pairs) is the direct pairwise loop used, which is cheaper
there and bounded by SMALL.

Distances are counted from the last token of the earlier occurrence to the first token
of the later one (adjacent = 1). NEAR, ONEAR and NEAR/s|p need two occurrences that do
not overlap (an occurrence is not near itself); for NOT NEAR a B that overlaps A counts
as within range (gap 0), so `Kallas NOT NEAR/2 "Siim Kallas"` skips Siim's Kallas.

Must not know about rules, hits or explanations: evaluate.py and why.py ask it for
the occurrences that satisfy an operator.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from itertools import accumulate, groupby
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from monitor.match import parse as p

if TYPE_CHECKING:
    from monitor.match.evaluate import Context, Limits, Occ

INF = 1 << 62
ALL = (INF, INF, INF)       # evaluate.ALL: the very object (evaluate.py imports it from here)

SMALL = 64   # pairs up to which the direct loop is used (tests set 0 to force the merge)
_FIELD = itemgetter(0)


def side(node: Any, ctx: Context, allowed: Limits) -> list[Occ]:
    """The occurrences of one operand (a term or an OR-group of terms), sorted; an OR-group's
    merged once per context (the verdict, and for a rule that fires its why, ask the same
    sides; never mutated, like a term's own list)."""
    if isinstance(node, p.Or):
        key = (id(node), allowed)               # the node lives as long as its rule set
        found = ctx.sides.get(key)
        if found is None:
            if allowed is ALL and not ctx.mask:     # the common case, without a call per term
                get = ctx.occ.get
                found = [o for t in node.children for o in get(t.pkey, ())]
            else:
                found = [o for t in node.children for o in ctx.within(t, allowed)]
            found.sort()
            ctx.sides[key] = found
        return found
    return ctx.within(node, allowed)


def near_holds(node: p.Near, ctx: Context, allowed: Limits) -> bool:
    left = side(node.left, ctx, allowed)
    if not left:
        return False
    right = side(node.right, ctx, allowed)
    if not right:
        return False
    if node.unit:
        return bool(near_pairs(node, ctx, allowed)[0])
    if len(left) * len(right) <= SMALL:
        n = node.distance
        if node.ordered:
            return any(f == g and 0 < b0 - a1 <= n for f, _a0, a1 in left for g, b0, _b1 in right)
        for f, a0, a1 in left:
            for g, b0, b1 in right:
                if f == g and (0 < b0 - a1 <= n or 0 < a0 - b1 <= n):
                    return True
        return False
    return bool(near_sides(node, ctx, left, right, left_only=True)[0])


def near_pairs(node: p.Near, ctx: Context, allowed: Limits) -> tuple[list[Occ], list[Occ]]:
    """near_sides of both sides, found once per context: for a NEAR/s|p the verdict asks for
    them, and the why of a rule that fires asks again (before, the verdict walked from each
    left occurrence to its nearest right ones and the why found both sides afresh: 2% more
    of all matching at 10,000 watch-list rules, where half the NEAR/s verdicts fire)."""
    key = (id(node), allowed)               # the node lives as long as its rule set
    found = ctx.nears.get(key)
    if found is None:
        found = ctx.nears[key] = near_sides(node, ctx, side(node.left, ctx, allowed),
                                            side(node.right, ctx, allowed))
    return found


def near_sides(node: p.Near, ctx: Context, left: list[Occ], right: list[Occ],
               left_only: bool = False) -> tuple[list[Occ], list[Occ]]:
    """The occurrences of each side that have a partner on the other side within range
    (`left_only`: the right side's are not looked for, and come back empty, for NEAR/n)."""
    out_left: list[Occ] = []
    out_right: list[Occ] = []
    rights = {f: list(g) for f, g in groupby(right, _FIELD)}
    for f, group in groupby(left, _FIELD):
        xs, ys = list(group), rights.get(f)
        if not ys:
            continue
        if node.unit:
            near_left, near_right = _same_unit(xs, ys, ctx.unit_range(node.unit, f))
            out_left += near_left
            out_right += near_right
        elif node.ordered:
            out_left += _has(xs, ys, node.distance, after=True, before=False)
            if not left_only:
                out_right += _has(ys, xs, node.distance, after=False, before=True)
        else:
            out_left += _has(xs, ys, node.distance, after=True, before=True)
            if not left_only:
                out_right += _has(ys, xs, node.distance, after=True, before=True)
    return out_left, out_right


def not_near(node: p.NotNear, ctx: Context, allowed: Limits) -> list[Occ]:
    """The occurrences of A with no occurrence of B within range (these are A's hits), found
    once per context: the verdict, the hits and the why of a rule each ask (never mutated)."""
    key = (id(node), allowed)               # the node lives as long as its rule set
    found = ctx.unblocked.get(key)
    if found is None:
        found = ctx.unblocked[key] = _not_near(node, ctx, allowed)
    return found


def _not_near(node: p.NotNear, ctx: Context, allowed: Limits) -> list[Occ]:
    left = side(node.left, ctx, allowed)
    if not left:
        return []
    right = side(node.right, ctx, allowed)
    if not right:
        return left
    rights = {f: list(g) for f, g in groupby(right, _FIELD)}
    out: list[Occ] = []
    for f, group in groupby(left, _FIELD):
        xs, ys = list(group), rights.get(f)
        if not ys:
            out += xs
        elif node.unit and (brk := ctx.breaker(node.unit, f)) is not None:
            out += _other_units_lazy(xs, ys, brk)
        elif node.unit:
            bounds = ctx.bounds(node.unit, f)
            units = {_unit(bounds, y) for y in ys}
            units.discard(-1)
            out += [x for x in xs if _unit(bounds, x) not in units]
        else:
            out += _unblocked(xs, ys, node.distance)
    return out


def _has(xs: list[Occ], ys: list[Occ], n: int, after: bool, before: bool) -> list[Occ]:
    """xs with a y starting 1..n tokens after their end, or ending 1..n tokens before their start."""
    starts = [y[1] for y in ys]                 # ys are sorted by start
    ends = sorted(y[2] for y in ys)
    out = []
    for x in xs:
        _, a, b = x
        if after:
            i = bisect_right(starts, b)
            if i < len(starts) and starts[i] - b <= n:
                out.append(x)
                continue
        if before:
            j = bisect_left(ends, a) - 1
            if j >= 0 and a - ends[j] <= n:
                out.append(x)
    return out


def _unit(bounds: list[int], o: Occ) -> int:
    """The unit of an occurrence given its field's unit bounds (FieldIndex.unit_bounds), -1 if
    it straddles two."""
    u = bisect_right(bounds, o[1])
    return u if o[1] == o[2] or bisect_right(bounds, o[2]) == u else -1


def _same_unit(xs: list[Occ], ys: list[Occ], unit_of: Any) -> tuple[list[Occ], list[Occ]]:
    """The xs with a y in their unit and the ys with an x in theirs (one field): pairs in the
    same sentence / paragraph that do not overlap, neither straddling two units. The units are
    asked (`unit_of(token)`: its unit's first and last token) for the occurrences of the side
    with fewer, once per unit they are in; the other side's occurrences in that unit are found
    by binary search. A unit's occurrences are paired through its latest start and earliest
    end, so the cost is O((|xs| + |ys|) log) and a unit read per unit of the smaller side."""
    swap = len(ys) < len(xs)
    pivots, others = (ys, xs) if swap else (xs, ys)
    starts = [o[1] for o in others]
    found_pivots: list[Occ] = []
    found_others: list[Occ] = []
    i, n = 0, len(pivots)
    while i < n:
        first, last = unit_of(pivots[i][1])
        mine = []
        while i < n and pivots[i][1] <= last:
            if pivots[i][2] <= last:                # not straddling into the next unit
                mine.append(pivots[i])
            i += 1
        theirs = [o for o in others[bisect_left(starts, first):bisect_right(starts, last)] if o[2] <= last]
        if not mine or not theirs:
            continue
        latest, earliest = max(o[1] for o in mine), min(o[2] for o in mine)
        found_others += [o for o in theirs if latest > o[2] or earliest < o[1]]
        latest, earliest = max(o[1] for o in theirs), min(o[2] for o in theirs)
        found_pivots += [o for o in mine if latest > o[2] or earliest < o[1]]
    return (found_others, found_pivots) if swap else (found_pivots, found_others)


def _other_units_lazy(xs: list[Occ], ys: list[Occ], brk: Any) -> list[Occ]:
    """For NOT NEAR/s|p: the xs with no y in their unit (an x that straddles two units has
    none), asking brk (FieldIndex.unit_break) from the ys nearest to x outwards."""
    starts = [y[1] for y in ys]
    n = len(ys)
    out = []
    for x in xs:
        _, a, b = x
        if a != b and brk(a, b):
            out.append(x)
            continue
        i = j = bisect_left(starts, a)
        blocked = False
        while j < n:
            _, c, d = ys[j]
            if brk(a, c):
                break
            if c == d or not brk(c, d):
                blocked = True
                break
            j += 1
        j = i - 1
        while not blocked and j >= 0:
            _, c, d = ys[j]
            if brk(c, a):
                break
            blocked = c == d or not brk(c, d)
            j -= 1
        if not blocked:
            out.append(x)
    return out


def _unblocked(xs: list[Occ], ys: list[Occ], n: int) -> list[Occ]:
    """xs with no y overlapping the window [start - n, end + n] (y sorted by start)."""
    starts = [y[1] for y in ys]
    reach = list(accumulate((y[2] for y in ys), max))   # the furthest end among ys[:i+1]
    out = []
    for x in xs:
        i = bisect_right(starts, x[2] + n)
        if not (i and reach[i - 1] >= x[1] - n):
            out.append(x)
    return out
