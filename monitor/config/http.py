"""The `http:` section of the config: where the web interface listens and how it is protected.

Owns the `HttpSettings` record (bounds declared on the fields, enforced by the config
checker with FILE:LINE:COL messages) and the checks the generic reader cannot know:
environment variable names. `listen` itself is validated by config/values.parse_listen.
The secrets are never in the YAML, only the names of the environment variables that hold
them; whether they are set is checked when the server starts (monitor.web.security),
so a config still loads for `monitor status` on a machine without them.
Must not read the environment, open sockets or touch the database.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from monitor.config.checker import bounded

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class HttpSettings:
    listen: str = ""                      # "127.0.0.1:8080"; empty = no web interface
    token_env: str = ""                   # env var holding a login/bearer token
    password_hash_env: str = ""           # env var holding a hash from `monitor web-password`
    open_health: bool = False             # /healthz and /metrics answer without login
    rules_writable: bool = False          # the rule tester may write rule files
    page_size: int = bounded(50, ge=5, le=500)            # stories per page on the matches page
    backtest_seconds: float = bounded(5.0, ge=0.5, le=120)  # time budget of a backtest or search
    backtest_days: int = bounded(7, ge=1, le=3650)        # default look-back of the rule tester


def split_listen(listen: str) -> tuple[str, int]:
    """("host", port) of "host:port", "[v6]:port" or ":port" (port 0: any free port, for tests)."""
    text = listen.strip()
    m = re.match(r"^\[(?P<v6>[^\]]+)\]:(?P<port>\d+)$", text) or re.match(r"^(?P<host>[^:\[\]]*):(?P<port>\d+)$", text)
    if not m or not 0 <= int(m["port"]) <= 65535:
        raise ValueError(f"listen must be HOST:PORT, got {listen!r}")
    host = m.groupdict().get("v6") or m.groupdict().get("host") or "127.0.0.1"
    return host, int(m["port"])


def is_loopback(host: str) -> bool:
    """Whether a listen host can only be reached from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check(c: Any, d: Any, settings: HttpSettings) -> None:
    """What the generic section reader cannot know (c is the config's Checker)."""
    if not isinstance(d, dict):
        return
    for key in ("token_env", "password_hash_env"):
        value = getattr(settings, key)
        if value and not ENV_NAME.match(value):
            c.err(d.get(key), f"{key} names an environment variable, e.g. MONITOR_WEB_TOKEN", d, key)
