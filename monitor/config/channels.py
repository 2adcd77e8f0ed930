"""The `channels:` section: one record per delivery channel, every option validated.

Owns the channel keys per type, their types and bounds (port, timeouts), URL and e-mail
address checks, schedules, `enabled:` and the names of the environment variables that
hold secrets (`*_env`). Must not read the secrets themselves (see `config.envcheck`), nor
open connections.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from monitor.config import values
from monitor.config.checker import Checker, did_you_mean

CHANNEL_TYPES = ("file", "email", "webhook", "apprise")
WEBHOOK_FORMATS = ("json", "slack", "discord", "teams", "teams-legacy", "mattermost")
SECURITY = ("starttls", "tls", "none")
ENV_KEYS = ("password_env", "secret_env", "urls_env", "url_env")
ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
BASE_KEYS = {"name", "type", "schedule", "enabled"}
NAME_RE = re.compile(r"[^\W_][\w .-]{0,63}")   # no '/', '\\', ':' or controls: it is part of file names
CHANNEL_KEYS = {
    "file": {"path"},
    "email": {"host", "port", "security", "username", "password_env", "from", "to", "timeout_seconds",
              "from_name", "list_id", "list_unsubscribe", "messages_per_second"},
    "webhook": {"url", "url_env", "format", "secret_env", "timeout_seconds", "headers", "messages_per_second"},
    "apprise": {"urls_env", "messages_per_second"},
}
UNSUBSCRIBE_RE = re.compile(r"(?i)(mailto:[^\s<>@]+@[^\s<>]+|https?://[^\s<>]+)")


@dataclass(frozen=True)
class ChannelSettings:
    name: str
    type: str
    schedule: str = "hourly"
    options: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True
    where: str = field(default="", compare=False)     # FILE:LINE:COL of the channel's entry
    env_where: dict[str, str] = field(default_factory=dict, compare=False)   # *_env key -> its place


def channel(c: Checker, d: Any) -> ChannelSettings | None:
    if not isinstance(d, dict) or "type" not in d:
        c.err(d, "a channel needs a name and a type (file, email, webhook or apprise)")
        return None
    kind = str(d["type"])
    if kind not in CHANNEL_TYPES:
        c.err(d["type"], f"unknown channel type {kind!r}{did_you_mean(kind, CHANNEL_TYPES)} "
              f"(known: {', '.join(CHANNEL_TYPES)})", d, "type")
        return None
    c.keys(d, BASE_KEYS | CHANNEL_KEYS[kind], f"{kind} channel", required=("name",))
    name = d.get("name", kind)
    if isinstance(name, bool):
        c.err(name, f"a channel's name must be a string: YAML reads this name as {name}; put it in quotes "
              "(e.g. name: 'off')", d, "name")
    elif not isinstance(name, str) or not name.strip():
        c.err(name, "a channel's name must be a non-empty string", d, "name")
    elif not NAME_RE.fullmatch(name):
        c.err(name, f"channel name {name!r}: use letters, digits, spaces, '.', '_' and '-', starting with a "
              "letter or digit, at most 64 (it becomes part of digest file names)", d, "name")
    schedule = d.get("schedule", "hourly")
    if not isinstance(schedule, str):
        c.err(schedule, f"schedule must be a string like 'daily at 07:30', got {schedule!r}", d, "schedule")
        schedule = "hourly"
    problem = values.schedule_problem(schedule)
    if problem:
        c.err(d.get("schedule"), problem, d, "schedule")
    enabled = c.typed(d, "enabled", bool, True)
    _check_options(c, d, kind)
    options = {k: plain(v) for k, v in d.items() if k not in BASE_KEYS}
    return ChannelSettings(name=str(name), type=kind, schedule=schedule.lower(), options=options,
                           enabled=bool(enabled), where=c.where(d),
                           env_where={k: c.where(d[k], d, k) for k in ENV_KEYS if k in d})


def _check_options(c: Checker, d: dict, kind: str) -> None:
    for key in ENV_KEYS:
        if key in d and not ENV_NAME_RE.fullmatch(str(d[key])):
            c.err(d[key], f"{key} names an environment variable (e.g. MONITOR_SMTP_PASSWORD), "
                  f"not {str(d[key])!r}; the secret itself never goes into the config", d, key)
    if "timeout_seconds" in d:
        t = c.typed(d, "timeout_seconds", (int, float), None)
        if t is not None and not 0 < t <= 600:
            c.err(d["timeout_seconds"], f"timeout_seconds must be more than 0 and at most 600, got {t}",
                  d, "timeout_seconds")
    if "messages_per_second" in d:
        r = c.typed(d, "messages_per_second", (int, float), None)
        if r is not None and not 0.01 <= r <= 100:
            c.err(d["messages_per_second"], f"messages_per_second must be from 0.01 to 100, got {r}",
                  d, "messages_per_second")
    if kind == "apprise" and "urls_env" not in d:
        c.err(d, "apprise channel needs 'urls_env': the environment variable holding its Apprise URLs")
    if kind == "file" and "path" in d:
        c.typed(d, "path", str, None)
    if kind == "email":
        _check_email(c, d)
    if kind == "webhook":
        _check_webhook(c, d)


def _check_email(c: Checker, d: dict) -> None:
    for key in ("host", "from", "to"):
        if key not in d:
            c.err(d, f"email channel needs {key!r}")
    if "host" in d:
        problem = values.host_problem(str(d["host"])) if isinstance(d["host"], str) else "must be a host name"
        if problem:
            c.err(d["host"], f"host {problem}", d, "host")
    port = c.typed(d, "port", int, None)
    if port is not None and not 1 <= port <= 65535:
        c.err(d["port"], f"port must be from 1 to 65535, got {port}", d, "port")
    security = str(d.get("security", "starttls"))
    if security not in SECURITY:
        c.err(d.get("security"), f"security must be starttls, tls or none{did_you_mean(security, SECURITY)}",
              d, "security")
    for key in ("username", "from_name", "list_id"):
        if key in d:
            c.typed(d, key, str, None)
    if "list_unsubscribe" in d:
        v = d["list_unsubscribe"]
        targets = [v] if isinstance(v, str) else v if isinstance(v, list) else None
        if not targets or not all(isinstance(x, str) and UNSUBSCRIBE_RE.fullmatch(x) for x in targets):
            c.err(v, "list_unsubscribe must be a mailto: or http(s): address, or a list of them", d,
                  "list_unsubscribe")
    _check_addresses(c, d)


def _check_addresses(c: Checker, d: dict) -> None:
    if "from" in d:
        problem = values.address_problem(d["from"]) if isinstance(d["from"], str) else "must be an address"
        if problem:
            c.err(d["from"], f"from {problem}", d, "from")
    to = d.get("to")
    recipients = [to] if isinstance(to, str) else to if isinstance(to, list) else None
    if "to" in d and not recipients:
        c.err(to, "to must be an e-mail address or a list of them", d, "to")
    for addr in recipients or ():
        problem = values.address_problem(addr) if isinstance(addr, str) else "must be an address"
        if problem:
            c.err(addr, f"to: {problem}", d, "to")


def _check_webhook(c: Checker, d: dict) -> None:
    if ("url" in d) == ("url_env" in d):
        c.err(d, "webhook channel needs 'url_env' (the environment variable holding its URL; chat "
              "webhook URLs are credentials) or 'url', not both")
    elif "url" in d:
        problem = values.url_problem(d["url"])
        if problem:
            c.err(d["url"], f"webhook url {problem}", d, "url")
    fmt = str(d.get("format", "json"))
    if fmt not in WEBHOOK_FORMATS:
        c.err(d.get("format"), f"format must be one of {', '.join(WEBHOOK_FORMATS)}"
              f"{did_you_mean(fmt, WEBHOOK_FORMATS)}", d, "format")
    headers = d.get("headers")
    if headers is not None and not (isinstance(headers, dict)
                                    and all(isinstance(v, (str, int)) for v in headers.values())):
        c.err(headers, "headers must be a mapping of header names to strings", d, "headers")


def plain(v: Any) -> Any:
    """A YAML value without position mixins (so it pickles and compares as plain data)."""
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, bool) or v is None or isinstance(v, float):
        return v
    if isinstance(v, int):
        return int(v)
    return str(v)
