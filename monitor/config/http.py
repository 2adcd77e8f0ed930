"""The `http:` section of the config: where the web interface listens and how it is protected.

Owns the `HttpSettings` record and its checks (FILE:LINE:COL messages through the config
checker): the listen address, the names of the environment variables that hold the
login token or password hash (never the secrets themselves), which pages stay open
without login, rule writing, page size and the tester's time budget. Whether the
secrets are actually set is checked when the server starts (monitor.web.server), not
here: a config must load for `monitor status` on a machine without them.
Must not read the environment, open sockets or touch the database.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class HttpSettings:
    listen: str = ""                      # "127.0.0.1:8080"; empty = no web interface
    token_env: str = ""                   # env var holding a login/bearer token
    password_hash_env: str = ""           # env var holding a hash from `monitor web-password`
    open_health: bool = False             # /healthz and /metrics answer without login
    rules_writable: bool = False          # the rule tester may write rule files
    page_size: int = 50                   # stories per page on the matches page
    backtest_seconds: float = 5.0         # time budget of a backtest or search
    backtest_days: int = 7                # default look-back of the rule tester


def split_listen(listen: str) -> tuple[str, int]:
    """("host", port) of "host:port" or "[v6]:port"; ValueError when malformed."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"listen must be HOST:PORT, got {listen!r}")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


def is_loopback(host: str) -> bool:
    """Whether a listen host can only be reached from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check(c: Any, d: Any, settings: HttpSettings) -> None:
    """Bounds and forms the generic section reader cannot know (c is the config's _Checker)."""
    if not isinstance(d, dict):
        return
    if settings.listen:
        try:
            split_listen(settings.listen)
        except ValueError as exc:
            c.err(d.get("listen"), str(exc))
    for key in ("token_env", "password_hash_env"):
        value = getattr(settings, key)
        if value and not ENV_NAME.match(value):
            c.err(d.get(key), f"{key} names an environment variable, e.g. MONITOR_WEB_TOKEN")
    if not 5 <= settings.page_size <= 500:
        c.err(d.get("page_size"), "page_size must be between 5 and 500")
    if not 0.5 <= settings.backtest_seconds <= 120:
        c.err(d.get("backtest_seconds"), "backtest_seconds must be between 0.5 and 120")
    if not 1 <= settings.backtest_days <= 3650:
        c.err(d.get("backtest_days"), "backtest_days must be between 1 and 3650")
