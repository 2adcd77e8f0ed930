"""The running daemon's own counters and histograms, for Prometheus (`/metrics`, config `http.listen`).

Owns the metric names and the small functions the stages call when something happened:
a feed polled (by outcome, and failures by kind), fetch latency (feed and page), articles
stored, matches by rule, deliveries by channel and outcome, poll cycle duration. They
live in `REGISTRY`, in process: counts start at zero when the daemon starts, as
Prometheus counters do. Must not do I/O nor hold anything but the numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

FEED_POLLS = Counter("monitor_feed_polls", "Feed polls by outcome (ok, not-modified, slow, failed, retired)",
                     ["outcome"], registry=REGISTRY)
FEED_ERRORS = Counter("monitor_feed_errors", "Failed feed polls by kind of error",
                      ["kind"], registry=REGISTRY)
FETCH_SECONDS = Histogram("monitor_fetch_seconds", "Time from the first request to the last byte, by what was fetched",
                          ["what"], registry=REGISTRY,
                          buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60))
ARTICLES = Counter("monitor_articles_stored", "New articles stored (extracted or from the feed's text)",
                   ["text_source"], registry=REGISTRY)
MATCHES = Counter("monitor_matches", "Rule matches on new articles, by rule", ["rule"], registry=REGISTRY)
DELIVERIES = Counter("monitor_deliveries", "Delivery attempts by channel and outcome (sent, retrying, failed)",
                     ["channel", "outcome"], registry=REGISTRY)
CYCLE_SECONDS = Histogram("monitor_poll_cycle_seconds", "Duration of poll cycles that polled at least one feed",
                          registry=REGISTRY, buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900))


def error_kind(error: str) -> str:
    """A failed poll's error message, as one of a few kinds (for the label)."""
    e = error.lower()
    for kind, needles in (("timeout", ("timeout", "deadline", "timed out")), ("blocked", ("blockedaddress",)),
                          ("too_large", ("toolarge", "too large")), ("parse", ("feedparseerror", "not a feed")),
                          ("internal", ("internal error",)), ("robots", ("robots.txt",))):
        if any(n in e for n in needles):
            return kind
    if e.startswith("http 4"):
        return "http_4xx"
    if e.startswith("http 5"):
        return "http_5xx"
    return "network"


def feed_polled(status: str, error: str = "") -> None:
    FEED_POLLS.labels(status).inc()
    if status == "failed":
        FEED_ERRORS.labels(error_kind(error)).inc()


def fetched(what: str, seconds: float) -> None:
    FETCH_SECONDS.labels(what).observe(max(0.0, seconds))


def stored(items: Iterable[tuple[Any, Iterable[Any]]]) -> None:
    """Articles stored with their matches, as the poll saved them."""
    for article, matches in items:
        ARTICLES.labels(getattr(article, "text_source", "page") or "page").inc()
        for m in matches:
            MATCHES.labels(m.rule).inc()


def delivered(channel: str, outcome: str) -> None:
    DELIVERIES.labels(channel, outcome).inc()


def cycle(seconds: float, feeds: int) -> None:
    if feeds:
        CYCLE_SECONDS.observe(seconds)


LOOP_LAG = Histogram("monitor_event_loop_lag_seconds",
                     "How late the daemon's event loop ran a 0.25 s timer (time the loop was blocked)",
                     registry=REGISTRY, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5))


def loop_lag(seconds: float) -> None:
    LOOP_LAG.observe(max(0.0, seconds))
