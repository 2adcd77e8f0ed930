"""What every `monitor` command shares: the config named by `--config`, loaded once and validated.

Owns finding and loading the config for a click context. Must not import any command module
(the commands import this, never each other).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from monitor.config import settings as config_mod
from monitor.errors import ConfigError

DEFAULT_CONFIG = "config/monitor.yaml"


def load_config(ctx: click.Context) -> config_mod.Config:
    """The validated config named by the top-level --config; exits 2 with every error."""
    obj = ctx.find_root().obj
    if "config" not in obj:
        try:
            obj["config"] = config_mod.load(obj["config_path"])
        except ConfigError as exc:
            for msg in exc.messages:
                click.echo(msg, err=True)
            sys.exit(2)
    return obj["config"]


def optional_config(ctx: click.Context) -> config_mod.Config | None:
    """The config when its file exists (commands that also work without one), else None."""
    path = (ctx.find_root().obj or {}).get("config_path") or DEFAULT_CONFIG
    return load_config(ctx) if Path(path).exists() else None


def existing_store(cfg: config_mod.Config):
    """The state database for a read-only command, never created nor migrated; exits 2 saying why not."""
    from monitor.store.open import existing_store as open_existing
    from monitor.store.sqlite import StateUnavailable
    try:
        return open_existing(cfg)
    except StateUnavailable as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)


def fetch_settings(ctx: click.Context) -> config_mod.FetchSettings:
    """The config's fetch settings when a config file is there (allow-list, user agent), else defaults."""
    cfg = optional_config(ctx)
    return cfg.fetch if cfg else config_mod.FetchSettings()
