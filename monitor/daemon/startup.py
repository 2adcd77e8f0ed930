"""What must hold before `monitor run` starts (or a reload is taken), checked up front.

Owns the start-up refusals, each a clear one-line message instead of a traceback later:
an unset secret variable, a database left at the old working-directory place while the
configured one is missing, an `http.listen` address that cannot be bound. Must not start
anything: the daemon does that once these pass.
"""

from __future__ import annotations

import socket

from monitor.config import values
from monitor.config.crossref import missing_env
from monitor.config.settings import Config
from monitor.errors import ConfigError, MonitorError


class StartupError(MonitorError):
    """The daemon must not start; `messages` says why, one problem per line."""

    def __init__(self, messages: list[str] | str):
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        super().__init__("\n".join(self.messages))


def legacy_state_problem(cfg: Config) -> str | None:
    """A database at the old cwd-relative place while the configured one is missing: refuse, say so."""
    old = cfg.legacy_state_path
    if cfg.postgres is not None or cfg.state_path.exists() or old is None or not old.exists():
        return None
    return (f"no database at {cfg.state_path}, but there is one at {old}: relative paths in the config now "
            f"follow the config file's folder ({cfg.path.parent}), not the current directory. Move the "
            f"database (and its -wal file) to {cfg.state_path}, or set state.path to {old}. "
            "Not starting with an empty database.")


def listen_problem(listen: str | None) -> str | None:
    """Why http.listen cannot be bound now (port in use, address not local), or None."""
    if not listen:
        return None
    try:
        host, port = values.parse_listen(listen)
    except ValueError as exc:
        return f"http.listen {exc}"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return f"http.listen {listen}: cannot resolve {host!r}: {exc.strerror or exc}"
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as exc:
            return f"http.listen {listen}: cannot listen there: {exc.strerror or exc}"
    return None


def login_problem(cfg: Config) -> str | None:
    """Why the web interface must not serve http.listen (a public address without a login secret), or None."""
    if not cfg.http_listen:
        return None
    from monitor.web.security import guard_for
    try:
        guard_for(cfg.http)
    except ConfigError as exc:
        return "; ".join(exc.messages)
    return None


def preflight(cfg: Config) -> None:
    """Raise StartupError listing every reason the daemon must not start with this config."""
    problems = missing_env(cfg)
    for problem in (legacy_state_problem(cfg), listen_problem(cfg.http_listen), login_problem(cfg)):
        if problem:
            problems.append(problem)
    if problems:
        raise StartupError(problems)
