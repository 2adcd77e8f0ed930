"""Loading and validating config/monitor.yaml into frozen settings records.

Owns the config schema: every key, its type and default. Unknown keys are errors
reported as `file:line`; secrets are never read from YAML, only the *names* of the
environment variables that hold them (`password_env`, `secret_env`).
Must not open network connections or the database.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from monitor.config import yamlsrc
from monitor.errors import ConfigError

CHANNEL_NAME_RE = re.compile(r"[^\W_][\w .-]{0,63}")   # no '/', '\\', ':' or controls: part of file names
CHANNEL_TYPES = ("file", "email", "webhook", "apprise")
WEBHOOK_FORMATS = ("json", "slack", "discord", "teams", "mattermost")
SCHEDULE_RE = re.compile(
    r"^(immediate|hourly|daily at (?P<dh>\d{1,2}):(?P<dm>\d{2})|"
    r"weekly on (?P<day>mon|tue|wed|thu|fri|sat|sun)[a-z]* at (?P<wh>\d{1,2}):(?P<wm>\d{2}))$",
    re.IGNORECASE,
)


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
    timeout_seconds: float = 20.0
    max_body_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    max_entries_per_feed: int = 200
    concurrency: int = 100
    per_host: int = 2
    check_interval_seconds: int = 60         # how often the daemon looks for due feeds
    default_interval_minutes: int = 30
    min_interval_minutes: int = 5
    max_interval_minutes: int = 360
    full_text: bool = True
    respect_robots: bool = True
    allow_private: tuple[str, ...] = ()      # CIDRs or host names allowed despite being non-public
    feed_alert_after_hours: float = 24.0
    extract_workers: int = 0                 # processes for extraction; 0 = one per core
    max_article_chars: int = 200_000         # stored text and summary per article, cut beyond
    robots_cache_size: int = 1000            # origins whose robots.txt is kept (LRU)
    feed_deadline_seconds: float = 300.0     # one feed's whole poll: feed, pages, extraction, matching
    match_seconds_per_article: float = 10.0  # matching and story signature of one article, in a worker


@dataclass(frozen=True)
class ChannelSettings:
    name: str
    type: str
    schedule: str = "hourly"
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DigestSettings:
    timezone: str = "UTC"
    quiet_hours: str | None = None            # "22:00-07:00"
    send_empty: bool = False
    max_items: int = 50
    immediate_per_rule_per_hour: int = 5
    retry_for_hours: float = 24.0


@dataclass(frozen=True)
class DedupeSettings:
    story_threshold: float = 0.4             # MinHash Jaccard at which two texts are one story
    story_window_hours: float = 72.0         # copies further apart than this are separate stories
    date_skew_minutes: float = 15.0          # a publisher's date later than first seen + this is not trusted
    update_threshold: float = 0.8            # an edited entry below this similarity is alerted again


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
    channels: tuple[ChannelSettings, ...]
    default_channels: tuple[str, ...]
    retention_days: int = 90
    log_format: str = "text"
    http_listen: str | None = None            # "127.0.0.1:9464" for /healthz and /metrics
    rules_max_alias_values: int = yamlsrc.DEFAULT_MAX_ALIAS_VALUES   # rules.max_alias_values
    shutdown_grace_seconds: float = 20.0      # on SIGTERM, how long running jobs may finish

    def channel(self, name: str) -> ChannelSettings:
        for ch in self.channels:
            if ch.name == name:
                return ch
        raise KeyError(name)


class _Checker:
    """Collects every problem, so a user sees all of them at once."""

    def __init__(self, file: str):
        self.file = file
        self.errors: list[str] = []

    def err(self, value: Any, msg: str) -> None:
        self.errors.append(f"{yamlsrc.where(value, self.file + ':1:1')}: {msg}")

    def keys(self, d: Any, allowed: set[str], section: str, required: tuple[str, ...] = ()) -> bool:
        if not isinstance(d, dict):
            self.err(d, f"{section} must be a mapping")
            return False
        for k in d:
            if k not in allowed:
                where = d.where_key(k) if isinstance(d, yamlsrc.PosDict) else self.file
                hint = f" (known: {', '.join(sorted(allowed))})"
                self.errors.append(f"{where}: unknown key {k!r} in {section}{hint}")
        for k in required:
            if k not in d:
                self.err(d, f"{section} needs {k!r}")
        return True

    def typed(self, d: dict, key: str, kind: type | tuple, default: Any) -> Any:
        if key not in d or d[key] is None:
            return default
        v = d[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(v, int) and not isinstance(v, bool):
            return float(v)
        if bool not in kinds and isinstance(v, bool) or not isinstance(v, kinds):
            names = "/".join(k.__name__ for k in kinds)
            self.err(v if isinstance(v, yamlsrc.Pos) else d, f"{key} must be {names}, got {v!r}")
            return default
        return v


def _dataclass_fields(cls) -> dict[str, Any]:
    return {f.name: f for f in cls.__dataclass_fields__.values()}


def _section(c: _Checker, d: Any, cls, name: str):
    """Build a flat settings dataclass from a mapping, with types from its defaults."""
    fields = _dataclass_fields(cls)
    if d is None:
        return cls()
    if not c.keys(d, set(fields), name):
        return cls()
    kwargs: dict[str, Any] = {}
    for key, f in fields.items():
        default = f.default
        if isinstance(default, tuple):
            items = c.typed(d, key, list, None)
            if items is not None:
                kwargs[key] = tuple(str(x) for x in items)
            continue
        kind: type | tuple = type(default) if default is not None else str
        if isinstance(default, float):
            kind = (int, float)
        val = c.typed(d, key, kind, default)
        kwargs[key] = float(val) if isinstance(default, float) else val
    return cls(**kwargs)


def _feed(c: _Checker, d: Any, defaults: FetchSettings) -> FeedSettings | None:
    allowed = {"url", "name", "tags", "interval_minutes", "full_text", "enabled"}
    if not c.keys(d, allowed, "feed", required=("url",)) or "url" not in d:
        return None
    url = str(d["url"])
    if not re.match(r"^https?://", url):
        c.err(d["url"], f"feed url must start with http:// or https://: {url!r}")
    interval = c.typed(d, "interval_minutes", int, None)
    if interval is not None and interval < 1:
        c.err(d["interval_minutes"], "interval_minutes must be at least 1")
    return FeedSettings(
        url=url,
        name=str(c.typed(d, "name", str, "")),
        tags=tuple(str(t) for t in c.typed(d, "tags", list, [])),
        interval_minutes=interval,
        full_text=c.typed(d, "full_text", bool, defaults.full_text),
        enabled=c.typed(d, "enabled", bool, True),
    )


CHANNEL_KEYS = {
    "file": {"path"},
    "email": {"host", "port", "security", "username", "password_env", "from", "to", "timeout_seconds"},
    "webhook": {"url", "url_env", "format", "secret_env", "timeout_seconds", "headers"},
    "apprise": {"urls_env"},
}


def _channel(c: _Checker, d: Any) -> ChannelSettings | None:
    base = {"name", "type", "schedule", "enabled"}
    if not isinstance(d, dict) or "type" not in d:
        c.err(d, "a channel needs a name and a type (file, email or webhook)")
        return None
    kind = str(d["type"])
    if kind not in CHANNEL_TYPES:
        c.err(d["type"], f"unknown channel type {kind!r} (known: {', '.join(CHANNEL_TYPES)})")
        return None
    c.keys(d, base | CHANNEL_KEYS[kind], f"{kind} channel", required=("name",))
    if "name" in d and not CHANNEL_NAME_RE.fullmatch(str(d["name"])):
        c.err(d["name"], f"channel name {str(d['name'])!r}: use letters, digits, spaces, '.', '_' and '-', "
              "starting with a letter or digit, at most 64 (it becomes part of digest file names)")
    schedule = str(d.get("schedule", "hourly"))
    _check_channel(c, d, kind, schedule)
    options = {k: _plain(v) for k, v in d.items() if k not in base}
    return ChannelSettings(name=str(d.get("name", kind)), type=kind, schedule=schedule.lower(),
                           options=options)


def _check_channel(c: _Checker, d: dict, kind: str, schedule: str) -> None:
    if not SCHEDULE_RE.match(schedule):
        c.err(d.get("schedule"), f"bad schedule {schedule!r}: use immediate, hourly, "
              "'daily at HH:MM' or 'weekly on DAY at HH:MM'")
    if kind == "apprise" and "urls_env" not in d:
        c.err(d, "apprise channel needs 'urls_env': the environment variable holding its Apprise URLs")
    for key in ("password_env", "secret_env", "urls_env", "url_env"):
        if key in d and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(d[key])):
            c.err(d[key], f"{key} names an environment variable, e.g. MONITOR_SMTP_PASSWORD")
    if kind == "email":
        for key in ("host", "from", "to"):
            if key not in d:
                c.err(d, f"email channel needs {key!r}")
        if str(d.get("security", "starttls")) not in ("starttls", "tls", "none"):
            c.err(d.get("security"), "security must be starttls, tls or none")
    if kind == "webhook":
        if ("url" in d) == ("url_env" in d):
            c.err(d, "webhook channel needs 'url_env' (the environment variable holding its URL; chat "
                  "webhook URLs are credentials) or 'url', not both")
        if str(d.get("format", "json")) not in WEBHOOK_FORMATS:
            c.err(d.get("format"), f"format must be one of {', '.join(WEBHOOK_FORMATS)}")


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, bool) or v is None or isinstance(v, float):
        return v
    if isinstance(v, int):
        return int(v)
    return str(v)


def _check_digest(c: _Checker, d: Any, digest: DigestSettings) -> None:
    try:
        ZoneInfo(digest.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        c.err(d.get("timezone") if isinstance(d, dict) else d, f"unknown time zone {digest.timezone!r}")
    if digest.quiet_hours and not re.fullmatch(r"\d{1,2}:\d{2}-\d{1,2}:\d{2}", digest.quiet_hours):
        c.err(d.get("quiet_hours"), "quiet_hours must look like 22:00-07:00")


def _check_caps(c: _Checker, d: Any, fetch: FetchSettings) -> None:
    """The growth caps of issue 12: a cap of 0 or less would mean none, so it is refused."""
    for key, low in (("max_article_chars", 1000), ("robots_cache_size", 1)):
        if getattr(fetch, key) < low:
            c.err(d.get(key) if isinstance(d, dict) else d, f"fetch.{key} must be at least {low}")


TOP_KEYS = {"state", "rules", "fetch", "digest", "dedupe", "feeds", "channels", "default_channels",
            "retention_days", "logging", "http", "shutdown_grace_seconds"}

# (section, key) -> (lowest, highest) for the time limits of jobs
_BOUNDS: dict[tuple[str | None, str], tuple[float, float]] = {
    ("fetch", "feed_deadline_seconds"): (1.0, 86400.0),
    ("fetch", "match_seconds_per_article"): (0.1, 3600.0),
    (None, "shutdown_grace_seconds"): (0.0, 3600.0),
}


def _check_bounds(c: _Checker, doc: Any, values: dict[tuple[str | None, str], float]) -> None:
    for (section, key), (low, high) in _BOUNDS.items():
        value = values[(section, key)]
        if not low <= value <= high:
            where = doc.get(section) if section else doc
            node = where.get(key) if isinstance(where, dict) else where
            name = f"{section}.{key}" if section else key
            c.err(node if isinstance(node, yamlsrc.Pos) else where, f"{name} must be between {low:g} and {high:g}, "
                  f"got {value:g}")


def parse(text: str, file: str = "<config>", base_dir: Path | None = None) -> Config:
    """Validate config text; raise ConfigError listing every problem."""
    base_dir = base_dir or Path.cwd()
    try:
        doc = yamlsrc.load(text, file)
    except yaml.YAMLError as exc:
        raise ConfigError(yamlsrc.error_location(exc, file)) from None
    doc = doc or yamlsrc.PosDict()
    c = _Checker(file)
    if not c.keys(doc, TOP_KEYS, "config"):
        raise ConfigError(c.errors)
    state = doc.get("state") or {}
    c.keys(state, {"path", "digests_dir"}, "state")
    rules = doc.get("rules") or {}
    c.keys(rules, {"path", "max_alias_values"}, "rules")
    max_alias_values = c.typed(rules, "max_alias_values", int, yamlsrc.DEFAULT_MAX_ALIAS_VALUES) \
        if isinstance(rules, dict) else yamlsrc.DEFAULT_MAX_ALIAS_VALUES
    if max_alias_values < 0:
        c.err(rules.get("max_alias_values"), "rules.max_alias_values must be 0 or more")
    logging_ = doc.get("logging") or {}
    c.keys(logging_, {"format"}, "logging")
    http = doc.get("http") or {}
    c.keys(http, {"listen"}, "http")
    fetch = _section(c, doc.get("fetch"), FetchSettings, "fetch")
    digest = _section(c, doc.get("digest"), DigestSettings, "digest")
    dedupe = _section(c, doc.get("dedupe"), DedupeSettings, "dedupe")
    _check_digest(c, doc.get("digest") or {}, digest)
    _check_caps(c, doc.get("fetch") or {}, fetch)
    grace = c.typed(doc, "shutdown_grace_seconds", (int, float), 20.0)
    _check_bounds(c, doc, {("fetch", "feed_deadline_seconds"): fetch.feed_deadline_seconds,
                           ("fetch", "match_seconds_per_article"): fetch.match_seconds_per_article,
                           (None, "shutdown_grace_seconds"): float(grace)})
    feeds = [f for f in (_feed(c, d, fetch) for d in c.typed(doc, "feeds", list, [])) if f]
    seen: set[str] = set()
    for d, f in zip(doc.get("feeds") or [], feeds):
        if f.url in seen:
            c.err(d, f"feed {f.url} is listed twice")
        seen.add(f.url)
    channels = [ch for ch in (_channel(c, d) for d in c.typed(doc, "channels", list, [])) if ch]
    names = [ch.name for ch in channels]
    for name in {n for n in names if names.count(n) > 1}:
        c.err(doc["channels"], f"channel name {name!r} is used twice")
    default_channels = tuple(str(x) for x in c.typed(doc, "default_channels", list, names[:1]))
    for name in default_channels:
        if name not in names:
            c.err(doc.get("default_channels"), f"default channel {name!r} is not defined in channels")
    log_format = str(logging_.get("format", "text")) if isinstance(logging_, dict) else "text"
    if log_format not in ("text", "json"):
        c.err(logging_.get("format"), "logging.format must be text or json")
    if c.errors:
        raise ConfigError(c.errors)

    def resolve(p: Any, default: str) -> Path:
        path = Path(str(p or default))
        return path if path.is_absolute() else base_dir / path

    return Config(
        path=Path(file),
        state_path=resolve(state.get("path") if isinstance(state, dict) else None, "state/monitor.db"),
        digests_dir=resolve(state.get("digests_dir") if isinstance(state, dict) else None, "state/digests"),
        rules_path=resolve(rules.get("path") if isinstance(rules, dict) else None, "rules"),
        fetch=fetch, digest=digest, dedupe=dedupe, feeds=tuple(feeds), channels=tuple(channels),
        default_channels=default_channels,
        retention_days=int(c.typed(doc, "retention_days", int, 90)),
        log_format=log_format,
        http_listen=str(http["listen"]) if isinstance(http, dict) and http.get("listen") else None,
        rules_max_alias_values=max_alias_values,
        shutdown_grace_seconds=float(grace),
    )


def load(path: str | Path) -> Config:
    """Load a config file; relative paths in it are relative to the current directory."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from None
    return parse(text, str(path), Path.cwd())


def secret(env_name: str | None) -> str | None:
    """A secret from the environment; None when the variable is unset or empty."""
    return os.environ.get(env_name) or None if env_name else None
