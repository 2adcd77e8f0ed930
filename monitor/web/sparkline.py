"""A rule's matches per day as a small SVG chart, drawn on the server.

Owns turning {day: count} into the bars of a fixed-size chart (coordinates only: the
template writes the SVG elements, so every value stays autoescaped and no script or
inline style is needed). Pure. Must not query or render HTML.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

WIDTH = 150
HEIGHT = 30


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: str
    count: int


@dataclass(frozen=True)
class Sparkline:
    bars: tuple[Bar, ...]
    total: int
    peak: int
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def label(self) -> str:
        days = len(self.bars)
        return f"{self.total} matches in {days} days, at most {self.peak} a day"


def sparkline(per_day: dict[str, int], days: int = 30, today: date | None = None) -> Sparkline:
    """Bars for the `days` UTC days ending today (oldest left); a day without matches is a gap."""
    today = today or datetime.now(UTC).date()
    span = [(today - timedelta(days=days - 1 - i)).isoformat() for i in range(days)]
    counts = [int(per_day.get(d, 0)) for d in span]
    peak = max(counts, default=0)
    step = WIDTH / days
    bars = []
    for i, (d, n) in enumerate(zip(span, counts)):
        h = 0.0 if not n else max(1.5, (HEIGHT - 2) * n / peak)
        bars.append(Bar(x=round(i * step, 2), y=round(HEIGHT - h, 2), width=round(step * 0.8, 2),
                        height=round(h, 2), day=d, count=n))
    return Sparkline(tuple(bars), sum(counts), peak)
