"""The frozen settings records a validated config becomes: `Config` and its sections.

Owns the records' fields, their defaults and (through `bounded()`) their bounds, which
config/settings.py reads to validate; moved out of settings.py, which still re-exports
them. Must not parse or validate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from monitor.config import yamlsrc
from monitor.config.channels import ChannelSettings
from monitor.config.checker import bounded
from monitor.config.http import HttpSettings
from monitor.config.workers import WorkerSettings


@dataclass(frozen=True)
class FeedSettings:
    url: str
    name: str = ""
    tags: tuple[str, ...] = ()
    interval_minutes: int | None = None
    full_text: bool = True
    enabled: bool = True


@dataclass(frozen=True)
class FetchSettings:
    user_agent: str = "monitor/0.1 (news monitoring daemon; +https://github.com/monitor-news/monitor)"
    timeout_seconds: float = bounded(20.0, gt=0, le=600)
    max_body_bytes: int = bounded(10 * 1024 * 1024, ge=1024)
    max_redirects: int = bounded(5, ge=0, le=30)
    max_entries_per_feed: int = bounded(200, ge=1)
    concurrency: int = bounded(100, ge=1, le=10000)
    per_host: int = bounded(2, ge=1, le=1000)
    check_interval_seconds: int = bounded(60, ge=1, le=86400)   # how often the daemon looks for due feeds
    default_interval_minutes: int = bounded(30, ge=1)
    min_interval_minutes: int = bounded(5, ge=1)
    max_interval_minutes: int = bounded(360, ge=1)
    full_text: bool = True
    respect_robots: bool = True
    allow_private: tuple[str, ...] = ()      # CIDRs or host names allowed despite being non-public
    feed_alert_after_hours: float = bounded(24.0, gt=0)
    extract_workers: int = bounded(0, ge=0, le=256, hint="0 = one per core")
    # A new feed's first poll alerts only on items published this recently; None ("all") = on everything.
    first_poll_alert_hours: float | None = bounded(24.0, ge=0)
    feed_deadline_seconds: float = bounded(300.0, ge=1, le=86400)     # one feed's whole poll: feed, pages, ...
    match_seconds_per_article: float = bounded(10.0, ge=0.1, le=3600)  # matching + story signature, in a worker
    max_article_chars: int = bounded(200_000, ge=1000)   # stored text and summary per article, cut beyond
    robots_cache_size: int = bounded(1000, ge=1)         # origins whose robots.txt is kept (LRU)


@dataclass(frozen=True)
class DigestSettings:
    timezone: str = "UTC"
    quiet_hours: str | None = None            # "22:00-07:00"
    send_empty: bool = False
    max_items: int = bounded(50, ge=1)
    immediate_per_rule_per_hour: int = bounded(5, ge=0, hint="0 sends no immediate alerts")
    retry_for_hours: float = bounded(24.0, gt=0)
    channel_alert_after_minutes: float = bounded(60.0, ge=0)   # a channel failing this long is told via the others


@dataclass(frozen=True)
class DedupeSettings:
    story_threshold: float = bounded(0.4, gt=0, le=1)      # MinHash Jaccard at which two texts are one story
    story_window_hours: float = bounded(72.0, gt=0)        # copies further apart are separate stories
    date_skew_minutes: float = bounded(15.0, ge=0)         # a publisher's date later than first seen + this is not trusted
    related_threshold: float = bounded(0.07, ge=0, le=1)   # event-term similarity for "related coverage"; 0 = off
    update_threshold: float = bounded(0.8, gt=0, le=1)     # an edited entry below this is alerted again


@dataclass(frozen=True)
class Config:
    path: Path
    state_path: Path
    digests_dir: Path
    rules_path: Path
    fetch: FetchSettings
    digest: DigestSettings
    dedupe: DedupeSettings
    feeds: tuple[FeedSettings, ...]
    channels: tuple[ChannelSettings, ...]        # the enabled channels: the only ones that send
    default_channels: tuple[str, ...]
    retention_days: int | None = 90              # None: keep forever
    log_format: str = "text"
    http_listen: str | None = None               # "127.0.0.1:8080": the web interface, /healthz, /metrics
    http: HttpSettings = field(default_factory=HttpSettings)
    disabled_channels: tuple[str, ...] = ()      # defined with `enabled: false`: rules may name them
    legacy_state_path: Path | None = None        # where state.path pointed when paths followed the cwd
    rules_max_alias_values: int = yamlsrc.DEFAULT_MAX_ALIAS_VALUES   # rules.max_alias_values
    shutdown_grace_seconds: float = 20.0         # on SIGTERM, how long running jobs may finish
    state_vacuum: bool = True                    # state.vacuum: return pruned space after retention
    workers: WorkerSettings = field(default_factory=WorkerSettings)   # leases of claimed work

    def channel(self, name: str) -> ChannelSettings:
        for ch in self.channels:
            if ch.name == name:
                return ch
        raise KeyError(name)

    @property
    def channel_names(self) -> tuple[str, ...]:
        """Every defined channel, enabled or not: what a rule's `channels:` may name."""
        return tuple(ch.name for ch in self.channels) + self.disabled_channels
