"""The `monitor` command line: click commands that parse options, call the stages and print.

Owns argument parsing, exit codes and human/JSON output. Must not hold business
logic: each command calls into pipeline, store, match, delivery or config.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from monitor import __version__
from monitor import config as config_mod
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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config_path", default=DEFAULT_CONFIG, show_default=True,
              envvar="MONITOR_CONFIG", type=click.Path(dir_okay=False, path_type=Path),
              help="The config file (also $MONITOR_CONFIG).")
@click.version_option(__version__, prog_name="monitor")
@click.pass_context
def cli(ctx: click.Context, config_path: Path) -> None:
    """monitor: polls news feeds, extracts articles, matches watch rules, delivers digests."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


def main() -> None:
    cli(prog_name="monitor")


from monitor.cli_rules import match_command, rules_group  # noqa: E402

cli.add_command(rules_group)
cli.add_command(match_command)
