"""Loading and validating config/monitor.yaml into frozen settings records.

Owns the config schema: every key, its type, bounds and default. Every problem is
reported at once as `FILE:LINE:COL: message`, sorted by place, with a "did you mean"
for near-miss keys and names. Relative paths are relative to the config file's folder.
Secrets are never read from YAML, only the *names* of the environment variables that hold
them (channel options ending in `_env`, see config.channels and config.envcheck).
The records themselves (`Config` and its sections) are in config/records.py and
re-exported here. Must not open network connections or the database.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from monitor.config import values, yamlsrc
from monitor.config.channels import CHANNEL_TYPES, WEBHOOK_FORMATS, ChannelSettings, channel
from monitor.config.checker import Checker, did_you_mean
from monitor.config.http import HttpSettings
from monitor.config.http import check as check_http
from monitor.config.records import Config, DedupeSettings, DigestSettings, FeedSettings, FetchSettings
from monitor.config.values import SCHEDULE_RE
from monitor.config.workers import WorkerSettings, check_workers
from monitor.errors import ConfigError

__all__ = ["SCHEDULE_RE", "CHANNEL_TYPES", "WEBHOOK_FORMATS", "ChannelSettings", "Config", "FetchSettings", "DigestSettings",
           "DedupeSettings", "FeedSettings", "TOP_KEYS", "parse", "load", "secret"]


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
    state = _mapping(c, doc, "state", {"path", "digests_dir", "vacuum"})
    state_vacuum = c.typed(state, "vacuum", bool, True)
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
        rules_max_alias_values=max_alias_values,
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
