"""Loading and validating config/monitor.yaml into frozen settings records.

Owns the config schema: every key, its type, bounds and default. Every problem is
reported at once as `FILE:LINE:COL: message`, sorted by place, with a "did you mean"
for near-miss keys and names. Relative paths are relative to the config file's folder.
Secrets are never read from YAML, only the *names* of the environment variables that hold
them (channel options ending in `_env`, see config.channels and config.envcheck).
Must not open network connections or the database.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from monitor.config import values, yamlsrc
from monitor.config.channels import CHANNEL_TYPES, WEBHOOK_FORMATS, ChannelSettings, channel
from monitor.config.checker import Checker, bounded, did_you_mean
from monitor.config.http import HttpSettings
from monitor.config.http import check as check_http
from monitor.config.state import STATE_KEYS, PostgresSettings, parse_postgres
from monitor.config.values import SCHEDULE_RE
from monitor.config.workers import WorkerSettings, check_workers
from monitor.errors import ConfigError

__all__ = ["SCHEDULE_RE", "CHANNEL_TYPES", "WEBHOOK_FORMATS", "ChannelSettings", "Config", "FetchSettings", "DigestSettings",
           "DedupeSettings", "FeedSettings", "TOP_KEYS", "parse", "load", "secret"]


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
    related_threshold: float = bounded(0.065, ge=0, le=1)   # event-term similarity for "related coverage"; 0 = off
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
    postgres: PostgresSettings | None = None     # state.url / url_env: PostgreSQL instead of SQLite at state_path
    state_vacuum: bool = True                    # state.vacuum: return pruned space after retention (SQLite)
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


def _section(c: Checker, d: Any, cls, name: str):
    """Build a flat settings dataclass from a mapping: types from the defaults, bounds from the fields."""
    if d is None or not c.keys(d, {f.name for f in fields(cls)}, name):
        return cls()
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        default = f.default
        if isinstance(default, tuple):
            items = c.typed(d, f.name, list, None)
            if items is not None:
                kwargs[f.name] = tuple(str(x) for x in items)
        elif f.name == "first_poll_alert_hours":
            kwargs[f.name] = _first_poll(c, d, f)
        elif isinstance(default, (int, float)) and not isinstance(default, bool):
            kwargs[f.name] = c.number(d, f)
        else:
            kwargs[f.name] = c.typed(d, f.name, type(default) if default is not None else str, default)
    return cls(**kwargs)


def _first_poll(c: Checker, d: dict, f: Any) -> float | None:
    v = d.get(f.name)
    if isinstance(v, str) and v.strip().lower() == "all":
        return None
    if isinstance(v, str):
        c.err(v, f"first_poll_alert_hours must be a number of hours or 'all', got {v!r}", d, f.name)
        return f.default
    return c.number(d, f)


def _check_fetch(c: Checker, d: Any, fetch: FetchSettings) -> None:
    d = d if isinstance(d, dict) else {}
    lo, mid, hi = fetch.min_interval_minutes, fetch.default_interval_minutes, fetch.max_interval_minutes
    if lo > hi:
        c.err(None, f"min_interval_minutes ({lo}) is greater than max_interval_minutes ({hi})",
              d, "min_interval_minutes" if "min_interval_minutes" in d else "max_interval_minutes")
    elif not lo <= mid <= hi:
        c.err(None, f"default_interval_minutes ({mid}) must lie between min_interval_minutes ({lo}) "
              f"and max_interval_minutes ({hi})", d, "default_interval_minutes")
    if not fetch.user_agent.strip():
        c.err(d.get("user_agent"), "user_agent must not be empty (publishers block anonymous crawlers)",
              d, "user_agent")
    for item in d.get("allow_private") or ():
        text = str(item).strip()
        try:
            ipaddress.ip_network(text, strict=False)
        except ValueError:
            if values.host_problem(text):
                c.err(item, f"allow_private entry {text!r} is neither a CIDR (10.0.0.0/8) nor a host name",
                      d, "allow_private")


def _check_digest(c: Checker, d: Any, digest: DigestSettings) -> None:
    d = d if isinstance(d, dict) else {}
    try:
        ZoneInfo(digest.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        c.err(d.get("timezone"), f"unknown time zone {digest.timezone!r} (an IANA name like Europe/Brussels)",
              d, "timezone")
    if digest.quiet_hours:
        problem = values.quiet_hours_problem(digest.quiet_hours)
        if problem:
            c.err(d.get("quiet_hours"), problem, d, "quiet_hours")


def _feed(c: Checker, d: Any, defaults: FetchSettings) -> FeedSettings | None:
    allowed = {"url", "name", "tags", "interval_minutes", "full_text", "enabled"}
    if not c.keys(d, allowed, "feed", required=("url",)) or "url" not in d:
        return None
    url = str(d["url"])
    problem = values.url_problem(url)
    if problem:
        c.err(d["url"], f"feed url {problem}", d, "url")
    interval = c.typed(d, "interval_minutes", int, None)
    if interval is not None and interval < 1:
        c.err(d["interval_minutes"], f"interval_minutes must be at least 1, got {interval}", d, "interval_minutes")
        interval = None
    return FeedSettings(
        url=url,
        name=str(c.typed(d, "name", str, "")),
        tags=tuple(str(t) for t in c.typed(d, "tags", list, [])),
        interval_minutes=interval,
        full_text=c.typed(d, "full_text", bool, defaults.full_text),
        enabled=c.typed(d, "enabled", bool, True),
    )


def _feeds(c: Checker, doc: dict, fetch: FetchSettings) -> list[FeedSettings]:
    raw = c.typed(doc, "feeds", list, [])
    out, seen = [], set()
    for d in raw:
        f = _feed(c, d, fetch)
        if f is None:
            continue
        if f.url in seen:
            c.err(d, f"feed {f.url} is listed twice")
        seen.add(f.url)
        out.append(f)
    return out


def _channels(c: Checker, doc: dict) -> tuple[list[ChannelSettings], tuple[str, ...]]:
    defined = [ch for ch in (channel(c, d) for d in c.typed(doc, "channels", list, [])) if ch]
    names = [ch.name for ch in defined]
    for d in doc.get("channels") or ():
        name = d.get("name") if isinstance(d, dict) else None
        if name is not None and names.count(str(name)) > 1:
            c.err(name, f"channel name {str(name)!r} is used twice", d, "name")
    raw_defaults = doc.get("default_channels")
    default_channels = tuple(str(x) for x in c.typed(doc, "default_channels", list, names[:1]))
    for i, name in enumerate(default_channels):
        if name not in names:
            item = raw_defaults[i] if isinstance(raw_defaults, list) else None
            c.err(item, f"default channel {name!r} is not defined in channels{did_you_mean(name, names)}",
                  doc, "default_channels")
    return defined, default_channels


def _mapping(c: Checker, doc: dict, key: str, allowed: set[str]) -> dict:
    d = doc.get(key)
    if d is None:
        return {}
    return d if c.keys(d, allowed, key) else {}


def _string(c: Checker, d: dict, key: str) -> str | None:
    v = c.typed(d, key, str, None)
    if v is not None and not v.strip():
        c.err(v, f"{key} must not be empty", d, key)
        return None
    return v


TOP_KEYS = {"state", "rules", "fetch", "digest", "dedupe", "feeds", "channels", "default_channels",
            "retention_days", "logging", "http", "shutdown_grace_seconds", "workers"}


def parse(text: str, file: str = "<config>", base_dir: Path | None = None,
          legacy_dir: Path | None = None) -> Config:
    """Validate config text; raise ConfigError listing every problem, sorted by line.

    Relative paths resolve against base_dir (the config file's folder for `load`); with
    legacy_dir, `legacy_state_path` says where state.path pointed when paths followed the cwd.
    """
    base_dir = base_dir or Path.cwd()
    try:
        doc = yamlsrc.load(text, file)
    except yaml.YAMLError as exc:
        raise ConfigError(yamlsrc.error_location(exc, file)) from None
    doc = doc if doc is not None else yamlsrc.PosDict()
    c = Checker(file)
    if not c.keys(doc, TOP_KEYS, "config"):
        raise ConfigError(c.errors)
    state = _mapping(c, doc, "state", STATE_KEYS | {"vacuum"})
    state_vacuum = c.typed(state, "vacuum", bool, True)
    postgres = parse_postgres(c, state)
    rules = _mapping(c, doc, "rules", {"path", "max_alias_values"})
    max_alias_values = c.typed(rules, "max_alias_values", int, yamlsrc.DEFAULT_MAX_ALIAS_VALUES)
    if max_alias_values < 0:
        c.err(rules.get("max_alias_values"), "rules.max_alias_values must be 0 or more", rules, "max_alias_values")
    logging_ = _mapping(c, doc, "logging", {"format"})
    http = _mapping(c, doc, "http", {f.name for f in fields(HttpSettings)})
    http_settings = _section(c, http or None, HttpSettings, "http")
    check_http(c, http, http_settings)
    fetch = _section(c, doc.get("fetch"), FetchSettings, "fetch")
    digest = _section(c, doc.get("digest"), DigestSettings, "digest")
    dedupe = _section(c, doc.get("dedupe"), DedupeSettings, "dedupe")
    _check_fetch(c, doc.get("fetch"), fetch)
    _check_digest(c, doc.get("digest"), digest)
    workers = _section(c, doc.get("workers"), WorkerSettings, "workers")
    check_workers(c, doc.get("workers"), workers)
    grace = c.typed(doc, "shutdown_grace_seconds", (int, float), 20.0)
    if not 0 <= grace <= 3600:
        c.err(doc.get("shutdown_grace_seconds"), f"shutdown_grace_seconds must be between 0 and 3600, got {grace:g}",
              doc, "shutdown_grace_seconds")
    feeds = _feeds(c, doc, fetch)
    defined, default_channels = _channels(c, doc)
    log_format = str(logging_.get("format", "text"))
    if log_format not in ("text", "json"):
        c.err(logging_.get("format"), f"logging.format must be text or json{did_you_mean(log_format, ['text', 'json'])}",
              logging_, "format")
    listen = http.get("listen")
    if listen is not None:
        try:
            values.parse_listen(str(listen))
        except ValueError as exc:
            c.err(listen, f"http.listen {exc}", http, "listen")
    retention, problem = values.parse_retention(doc.get("retention_days", 90))
    if problem:
        c.err(doc.get("retention_days"), problem, doc, "retention_days")
    state_file, digests_dir, rules_dir = _string(c, state, "path"), _string(c, state, "digests_dir"), \
        _string(c, rules, "path")
    if c.errors:
        raise ConfigError(c.sorted_errors())

    def resolve(p: str | None, default: str, base: Path = base_dir) -> Path:
        path = Path(os.path.expanduser(p or default))
        return path if path.is_absolute() else base / path

    state_path = resolve(state_file, "state/monitor.db")
    legacy = resolve(state_file, "state/monitor.db", legacy_dir) if legacy_dir else None
    return Config(
        path=Path(file), state_path=state_path,
        digests_dir=resolve(digests_dir, "state/digests"),
        rules_path=resolve(rules_dir, "rules"),
        fetch=fetch, digest=digest, dedupe=dedupe, feeds=tuple(feeds),
        channels=tuple(ch for ch in defined if ch.enabled),
        default_channels=default_channels, retention_days=retention, log_format=log_format,
        http_listen=str(listen) if listen else None, http=http_settings,
        disabled_channels=tuple(ch.name for ch in defined if not ch.enabled),
        legacy_state_path=legacy if legacy is not None and legacy != state_path else None,
        shutdown_grace_seconds=float(grace), state_vacuum=state_vacuum,
        rules_max_alias_values=max_alias_values, workers=workers,
        postgres=postgres,
    )


def load(path: str | Path) -> Config:
    """Load a config file; relative paths in it are relative to the file's own folder."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from None
    return parse(text, str(path), path.resolve().parent, legacy_dir=Path.cwd())


def secret(env_name: str | None) -> str | None:
    """A secret from the environment; None when the variable is unset or empty."""
    return os.environ.get(env_name) or None if env_name else None
