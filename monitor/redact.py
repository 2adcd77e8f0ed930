"""Keeping credentials out of logs, command output and stored error messages.

Owns what counts as a credential in a config (chat webhook URLs, whose path *is* the
token for Slack, Discord, Teams and Mattermost; the values behind `password_env`,
`secret_env`, `urls_env` and `url_env`; webhook headers named like credentials) and
how it is shown instead: a URL as `scheme://host/…`, anything else as `***`.
Pure functions, plus reading the environment variables the config names.
Must not log, print or decide what is sent.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote, urlsplit

MASK = "***"
_CREDENTIAL_HEADER = re.compile(r"auth|token|key|secret|signature|cookie|password", re.IGNORECASE)
MIN_SECRET = 6          # shorter values would redact ordinary words


def redact_url(url: str) -> str:
    """`https://hooks.slack.com/…` for any URL: user info, path, query and fragment dropped."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return MASK
    if not parts.scheme or not host:
        return MASK
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}{port}/…"


def _env(name: Any) -> str | None:
    return os.environ.get(str(name)) or None if name else None


def channel_secrets(options: dict[str, Any]) -> list[str]:
    """The credentials one channel's options carry or name (values, not variable names)."""
    out: list[str] = []
    for key in ("url",):
        if options.get(key):
            out.append(str(options[key]))
    for key in ("url_env", "password_env", "secret_env", "urls_env"):
        value = _env(options.get(key))
        if value:
            out += re.split(r"[\s,]+", value) if key == "urls_env" else [value]
    for name, value in (options.get("headers") or {}).items():
        if _CREDENTIAL_HEADER.search(str(name)) and value:
            out.append(str(value))
    return [s for s in out if len(s) >= MIN_SECRET]


def config_secrets(config: Any) -> list[str]:
    """Every credential a loaded config's channels carry or name (see channel_secrets)."""
    return [s for ch in getattr(config, "channels", ()) for s in channel_secrets(ch.options)]


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret (also percent-encoded or -decoded) replaced by its redacted form."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        shown = redact_url(secret) if "://" in secret else MASK
        for form in {secret, unquote(secret), quote(secret, safe=":/?&=#")}:
            if len(form) >= MIN_SECRET and form in text:
                text = text.replace(form, shown)
    return text
