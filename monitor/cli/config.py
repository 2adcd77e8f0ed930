"""`monitor config check`: validate the config and the rules against it, touching no state.

Owns the command's output and exit code: every problem of the config file and of the
rule files (including rules routed to channels the config does not define) as
`FILE:LINE:COL: message`, sorted; warnings for what only the service's own environment
can settle (unset `*_env` variables, a database left at the old cwd-relative place).
Must not open the database or the network.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from monitor.config import settings as config_mod
from monitor.config.crossref import missing_env, rule_channel_errors
from monitor.errors import ConfigError, RuleError


@click.group("config")
def config_group() -> None:
    """Check the configuration."""


@config_group.command("check")
@click.option("--rules", "rules_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Rules folder to check against the config (default: the config's rules.path).")
@click.pass_context
def check_command(ctx: click.Context, rules_dir: Path | None) -> None:
    """Validate the config file and the rules against it; print every problem.

    Exit status 0 when both are valid (warnings allowed), 2 otherwise. Unset environment
    variables named by `*_env` keys are warnings here (this shell may not have the
    service's environment); `monitor run` refuses to start without them. Example:

        \b
        monitor --config /etc/monitor/monitor.yaml config check
    """
    from monitor.daemon.startup import legacy_state_problem
    from monitor.match import load_rules

    path = Path(ctx.find_root().obj["config_path"])
    errors: list[str] = []
    warnings: list[str] = []
    cfg = None
    try:
        cfg = config_mod.load(path)
    except ConfigError as exc:
        errors += exc.messages
    rules_path = rules_dir or (cfg.rules_path if cfg else _raw_rules_path(path))
    n_rules = 0
    if rules_path is not None:
        try:
            rs = load_rules(rules_path)
            n_rules = len(rs.rules)
            if cfg is not None:
                errors += rule_channel_errors(rs.rules, cfg)
        except RuleError as exc:
            errors += exc.messages
    if cfg is not None:
        warnings += missing_env(cfg)
        legacy = legacy_state_problem(cfg)
        if legacy:
            warnings.append(legacy)
    for msg in errors:
        click.echo(msg, err=True)
    for msg in warnings:
        click.echo(f"warning: {msg}", err=True)
    if errors:
        click.echo(f"{path}: {len(errors)} problem(s)", err=True)
        sys.exit(2)
    assert cfg is not None
    click.echo(f"{path}: OK: {len(cfg.feeds)} feeds, {len(cfg.channels)} channels, {n_rules} rules"
               + (f" ({len(warnings)} warning(s))" if warnings else ""))



def _raw_rules_path(path: Path) -> Path | None:
    """rules.path read leniently from a config that does not validate, so its rules are checked too."""
    from monitor.config.lenient import raw_paths
    found = raw_paths(path)
    return found[1] if found else None
