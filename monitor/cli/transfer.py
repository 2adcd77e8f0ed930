"""`monitor migrate --to URL`: the SQLite state copied into PostgreSQL, and the counts printed.

Owns the command's choices of source and target, its refusals (a daemon running on the
SQLite state, a source at another schema version, an unset password variable) and its
exit codes: 0 when every table's counts agree, 1 on a mismatch, 2 when nothing could be
copied. The copy itself is store/transfer.py's. Must not hold business logic.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from monitor.config.settings import Config
from monitor.errors import MonitorError


def _target(cfg: Config, to_url: str | None, password_env: str | None) -> tuple[str, str | None] | None:
    if to_url is None:
        if cfg.postgres is None:
            click.echo("give --to postgresql://... (the config names no PostgreSQL state)", err=True)
            return None
        return cfg.postgres.resolve()
    if not to_url.startswith(("postgresql://", "postgres://")):
        click.echo(f"--to must be a PostgreSQL URL (postgresql://user@host:5432/dbname), got {to_url!r}", err=True)
        return None
    password = None
    if password_env:
        password = os.environ.get(password_env) or None
        if password is None:
            click.echo(f"--password-env names {password_env}, which is not set (or empty)", err=True)
            return None
    return to_url, password


def transfer(cfg: Config, to_url: str | None, from_path: Path | None, password_env: str | None,
             batch: int) -> int:
    from monitor.daemon.lock import AlreadyRunning, StateLock
    from monitor.store.pg_base import masked
    from monitor.store.postgres import PgStore
    from monitor.store.sqlite import StateUnavailable, Store
    from monitor.store.transfer import copy_state

    source = from_path or (cfg.state_path if cfg.postgres is None else None)
    if source is None:
        click.echo("the config names PostgreSQL: give the SQLite state to copy with --from FILE", err=True)
        return 2
    target = _target(cfg, to_url, password_env)
    if target is None:
        return 2
    url, password = target
    try:
        Store.existing(source).close()       # there, and at this monitor's schema version
    except StateUnavailable as exc:
        click.echo(f"not copied: {exc}", err=True)
        return 2
    try:
        with StateLock(source):              # no daemon writes the source meanwhile
            store = PgStore(url, password=password)
            try:
                click.echo(f"copying {source} into {masked(url)} in batches of {batch}")
                counts = copy_state(source, store, batch=batch, progress=lambda c: click.echo(c.line()))
            finally:
                store.close()
    except AlreadyRunning as exc:
        click.echo(f"not copied: {exc}; stop the daemon first", err=True)
        return 2
    except MonitorError as exc:
        click.echo(f"not copied: {exc}", err=True)
        return 2
    bad = [c.table for c in counts if not c.ok]
    if bad:
        click.echo(f"counts differ in {', '.join(bad)}: run it again to continue an interrupted copy; rows "
                   "PostgreSQL has beyond the SQLite state come from another writer", err=True)
        return 1
    click.echo(f"copied: every table's counts agree ({sum(c.source for c in counts)} rows). Now set "
               "state.url in the config and start the workers.")
    return 0
