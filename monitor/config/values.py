"""Parsing the config's small value languages: URLs, e-mail addresses, HOST:PORT, times, retention.

Each `*_problem` function returns why a value is wrong (a message without location) or
None; the parse functions return the parsed value. Pure functions: no network, no DNS
(a host name is checked for shape only), no file system.
"""

from __future__ import annotations

import ipaddress
import re
from email.utils import parseaddr
from urllib.parse import urlsplit

HOSTNAME_RE = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_]"
                         r"([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$")
ADDRESS_RE = re.compile(r"^[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+$")
HHMM_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
SCHEDULE_RE = re.compile(
    r"^(immediate|hourly|daily at (?P<dh>\d{1,2}):(?P<dm>\d{2})|"
    r"weekly on (?P<day>mon|tue|wed|thu|fri|sat|sun)[a-z]* at (?P<wh>\d{1,2}):(?P<wm>\d{2}))$",
    re.IGNORECASE,
)
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
FOREVER = ("forever", "never", "-1")


def host_problem(host: str) -> str | None:
    if not host:
        return "has no host"
    try:
        ipaddress.ip_address(host.strip("[]"))
        return None
    except ValueError:
        pass
    return None if HOSTNAME_RE.match(host) else f"host {host!r} is not a valid host name or IP address"


def url_problem(url: str, schemes: tuple[str, ...] = ("http", "https")) -> str | None:
    """Why url is not an absolute URL with one of the schemes and a valid host, or None."""
    if not isinstance(url, str) or not url.strip():
        return "must be a URL like https://example.org/path"
    if any(c.isspace() for c in url):
        return f"is not a URL (it contains spaces): {url!r}"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"is not a valid URL ({exc}): {url!r}"
    if parts.scheme.lower() not in schemes:
        want = " or ".join(f"{s}://" for s in schemes)
        return f"must start with {want}: {url!r}"
    problem = host_problem(parts.hostname or "")
    if problem:
        return f"{problem}: {url!r}"
    if port == 0:
        return f"has port 0: {url!r}"
    return None


def address_problem(value: str) -> str | None:
    """Why value is not one e-mail address (`a@example.org` or `Name <a@example.org>`), or None."""
    if not isinstance(value, str) or not value.strip():
        return "must be an e-mail address like desk@example.org"
    name, addr = parseaddr(value)
    if not addr or not ADDRESS_RE.match(addr) or ("<" in value) != ("<" in value and ">" in value):
        return f"{value!r} is not an e-mail address (like desk@example.org or 'Desk <desk@example.org>')"
    domain = addr.rsplit("@", 1)[1]
    if host_problem(domain.strip("[]")):
        return f"{value!r} has an invalid domain {domain!r}"
    return None


def parse_listen(value: str) -> tuple[str, int]:
    """`HOST:PORT`, `[v6]:PORT` or `:PORT` -> (host, port); ValueError with the reason."""
    text = str(value).strip()
    m = re.match(r"^\[(?P<v6>[^\]]+)\]:(?P<port>[^:]*)$", text) or \
        re.match(r"^(?P<host>[^:\[\]]*):(?P<port>[^:]*)$", text)
    if not m:
        raise ValueError(f"{text!r} must be HOST:PORT, e.g. 127.0.0.1:9464 ([::1]:9464 for IPv6)")
    host = m.groupdict().get("v6") or m.groupdict().get("host") or "127.0.0.1"
    port_text = m["port"]
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"{text!r}: the port must be a number from 1 to 65535 (0: any free port)")
    problem = host_problem(host)
    if problem:
        raise ValueError(f"{text!r}: {problem}")
    return host, int(port_text)


def hhmm_problem(text: str) -> str | None:
    m = HHMM_RE.match(text)
    if not m:
        return f"{text!r} is not a time of day HH:MM"
    if int(m[1]) > 23 or int(m[2]) > 59:
        return f"{text!r} is not a time of day (00:00 to 23:59)"
    return None


def schedule_problem(schedule: str) -> str | None:
    m = SCHEDULE_RE.match(schedule)
    if not m:
        return (f"bad schedule {schedule!r}: use immediate, hourly, 'daily at HH:MM' or "
                "'weekly on DAY at HH:MM'")
    if m["day"]:
        word = schedule.lower().split()[2]
        if not any(d.startswith(word) for d in DAYS):
            return f"bad schedule {schedule!r}: {word!r} is not a day of the week"
    at = f"{m['dh']}:{m['dm']}" if m["dh"] else f"{m['wh']}:{m['wm']}" if m["wh"] else None
    problem = hhmm_problem(at) if at else None
    return f"bad schedule {schedule!r}: {problem}" if problem else None


def quiet_hours_problem(text: str) -> str | None:
    parts = str(text).split("-")
    if len(parts) != 2 or any(hhmm_problem(p) for p in parts):
        return f"quiet_hours must look like 22:00-07:00 (times 00:00 to 23:59), got {text!r}"
    if parts[0] == parts[1]:
        return f"quiet_hours {text!r} starts and ends at the same time"
    return None


def parse_retention(value: object) -> tuple[int | None, str | None]:
    """retention_days -> (days or None for keep forever, problem or None)."""
    if isinstance(value, str) and value.strip().lower() in FOREVER:
        return None, None
    if isinstance(value, bool) or not isinstance(value, int):
        return 90, (f"retention_days must be a whole number of days (at least 1) or -1 / forever to keep "
                    f"everything, got {value!r}")
    if value == -1:
        return None, None
    if value < 1:
        return 90, (f"retention_days {value} would delete every article at start: write a number of days "
                    "(at least 1), or -1 / forever to keep everything")
    return int(value), None
