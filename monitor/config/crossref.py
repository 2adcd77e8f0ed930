"""Checks that join the config with what it names: rule channels and secret variables.

Owns two questions the config alone cannot answer: does every rule route only to
channels the config defines (at load, reload and `rules check`), and is every
environment variable named by a channel's `*_env` key set (a warning in `config check`,
an error when the daemon starts or reloads). Takes rules duck-typed (`id`, `channels`,
`channel_where`, `where`), so config never imports the rule language. Must not read the
secrets' values beyond "set or not".
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from monitor.config.channels import ENV_KEYS
from monitor.config.checker import did_you_mean, sort_messages
from monitor.config.settings import Config


def rule_channel_errors(rules: Iterable[Any], cfg: Config) -> list[str]:
    """`FILE:LINE:COL: rule 'x' routes to channel 'y', which ... is not defined` for every such name."""
    defined = cfg.channel_names
    out = []
    for rule in rules:
        places = tuple(getattr(rule, "channel_where", ()) or ())
        for i, name in enumerate(rule.channels):
            if name in defined:
                continue
            where = places[i] if i < len(places) else rule.where
            out.append(f"{where}: rule {rule.id!r} routes to channel {name!r}, which {cfg.path} does not "
                       f"define{did_you_mean(name, defined)} (defined: {', '.join(defined) or 'none'})")
    return sort_messages(out)


def missing_env(cfg: Config) -> list[str]:
    """Every `*_env` variable of an enabled channel (and of state:) that is unset or empty, as `FILE:LINE:COL: message`."""
    out = []
    for ch in cfg.channels:
        for key in ENV_KEYS:
            name = ch.options.get(key)
            if name and not os.environ.get(str(name)):
                where = ch.env_where.get(key) or ch.where or str(cfg.path)
                out.append(f"{where}: channel {ch.name!r}: {key} names the environment variable {name}, "
                           "which is not set (or empty) in this environment")
    if cfg.postgres is not None:
        out += cfg.postgres.missing_env()
    return sort_messages(out)
