"""The `monitor` command line: click commands that parse options, call the stages and print.

Owns argument parsing, exit codes and human/JSON output. Must not hold business
logic: each command calls into pipeline, store, match, delivery or config.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from monitor import __version__
from monitor.cli.common import DEFAULT_CONFIG, load_config
from monitor.cli.config import config_group
from monitor.cli.digest import digest_command
from monitor.cli.extract import extract_command
from monitor.cli.feeds import feeds_group
from monitor.cli.matches import matches_command
from monitor.cli.progress import Progress
from monitor.cli.rules import match_command, rules_group
from monitor.cli.state import backup_command, migrate_command, restore_command, vacuum_command
from monitor.cli.stories import stories_command
from monitor.cli.terminal import guard_streams
from monitor.config import settings as config_mod


class MonitorGroup(click.Group):
    """The root group: a state database that cannot be used ends any command with a clear message.

    No traceback, exit status 2, the message names the file (StateError from the store; a
    sqlite3 error met later, say a damaged page, is named after the config's state.path).
    """

    def invoke(self, ctx: click.Context) -> Any:
        import sqlite3

        from monitor.errors import StateError
        try:
            return super().invoke(ctx)
        except StateError as exc:
            click.echo(f"monitor: {exc}", err=True)
            ctx.exit(2)
        except (sqlite3.Error, OSError) as exc:
            cfg = (ctx.obj or {}).get("config")
            state = cfg.state_path if cfg is not None else None
            if isinstance(exc, OSError) and not (state and exc.filename
                                                 and str(exc.filename).startswith(str(state))):
                raise                   # not about the state database
            from monitor.store.base import state_error
            click.echo(f"monitor: {state_error(state or Path('state database'), exc)}", err=True)
            ctx.exit(2)
        except Exception as exc:
            if not type(exc).__module__.startswith(("psycopg", "psycopg_pool")):
                raise
            from monitor.store.pg_base import pg_error  # a PostgreSQL state failing mid-command
            cfg = (ctx.obj or {}).get("config")
            url = cfg.postgres.url if cfg is not None and cfg.postgres is not None else "(PostgreSQL)"
            click.echo(f"monitor: {pg_error(url or '(state.url_env)', exc)}", err=True)
            ctx.exit(2)


@click.group(cls=MonitorGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config_path", default=DEFAULT_CONFIG, show_default=True,
              envvar="MONITOR_CONFIG", type=click.Path(dir_okay=False, path_type=Path),
              help="The config file (also $MONITOR_CONFIG).")
@click.version_option(__version__, prog_name="monitor")
@click.pass_context
def cli(ctx: click.Context, config_path: Path) -> None:
    """monitor: polls news feeds, extracts articles, matches watch rules, delivers digests."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    guard_streams(ctx)          # publisher text never reaches the terminal with control characters


def main() -> None:
    cli(prog_name="monitor")


def _setup_logging(cfg: config_mod.Config, verbose: bool = False) -> None:
    from monitor import logs, redact
    logs.setup(cfg.log_format, "DEBUG" if verbose else "INFO", redact.config_secrets(cfg))


@cli.command()
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.option("--worker-id", metavar="NAME", default=None,
              help="This worker's name in `monitor status` and in the leases it holds (default: host:pid). "
                   "Several workers share one PostgreSQL state: see docs/scaling.md.")
@click.pass_context
def run(ctx: click.Context, verbose: bool, worker_id: str | None) -> None:
    """Run the daemon: poll feeds on schedule, deliver digests, reload edited rules.

    Stops cleanly on SIGTERM or Ctrl-C. Due feeds and deliveries are claimed with leases,
    so several `monitor run` processes on one PostgreSQL database share the work
    (docs/scaling.md). Example:

        \b
        monitor --config config/monitor.yaml run --worker-id news-1
    """
    import asyncio

    from monitor.daemon import run as daemon
    from monitor.daemon.lock import AlreadyRunning
    from monitor.daemon.startup import StartupError
    cfg = load_config(ctx)
    _setup_logging(cfg, verbose)
    try:
        asyncio.run(daemon.run(cfg, worker_id=worker_id.strip() if worker_id else None))
    except AlreadyRunning as exc:
        click.echo(f"monitor: {exc}", err=True)
        sys.exit(2)
    except StartupError as exc:
        for msg in exc.messages:
            click.echo(f"monitor: not starting: {msg}", err=True)
        sys.exit(2)


@cli.command()
@click.option("--once", is_flag=True, required=True, help="Poll once and exit (the daemon polls on its own).")
@click.option("--all", "every_feed", is_flag=True, help="Poll every feed now, not only the due ones.")
@click.option("--rules", "rules_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Rules folder (default: the config's rules.path).")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.pass_context
def poll(ctx: click.Context, once: bool, every_feed: bool, rules_dir: Path | None, verbose: bool) -> None:
    """Poll the due feeds once: fetch, extract, dedupe, match and queue for delivery.

    Prints one summary line. Example:

        \b
        monitor poll --once --all
    """
    import asyncio

    from monitor.daemon import pipeline
    from monitor.daemon import run as daemon
    cfg = load_config(ctx)
    _setup_logging(cfg, verbose)

    async def go() -> pipeline.CycleSummary:
        async with daemon.open_deps(cfg, rules_dir, prestart=False) as deps:
            if deps.rules.current is None and deps.rules.errors:
                for msg in deps.rules.errors:
                    click.echo(msg, err=True)
                sys.exit(2)
            daemon.report_rules(deps)
            with Progress("polling feeds", "feeds") as bar:
                return await pipeline.poll_cycle(deps, every_feed=every_feed, progress=bar)

    summary = asyncio.run(go())
    click.echo(summary.line())
    for f in summary.feeds:
        if f.status == "failed":
            click.echo(f"  failed: {f.url}: {f.error}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--check", is_flag=True,
              help="Exit 1 when unhealthy: no daemon running (or its heartbeat is stale), a channel failing, "
                   "too many feeds failing. For container and service health checks.")
@click.option("--channel-grace-minutes", type=click.FloatRange(min=0), default=30.0, show_default=True,
              help="With --check: how long a channel may keep retrying before it counts as failing.")
@click.option("--max-failing-feeds", type=click.FloatRange(0, 100), default=50.0, show_default=True,
              help="With --check: the share of feeds (percent) that may be failing.")
@click.pass_context
def status(ctx: click.Context, as_json: bool, check: bool, channel_grace_minutes: float,
           max_failing_feeds: float) -> None:
    """Show the health: daemon, feeds, last poll, rules, channels, outbox backlog, database size.

    Works while the config on disk is invalid (it says so; a running daemon keeps the last
    valid one) and never creates or upgrades the database. Examples:

        \b
        monitor status
        monitor status --check      # exit 1 and say why when unhealthy
    """
    from monitor.config.lenient import raw_paths
    from monitor.daemon import status as status_mod
    from monitor.errors import ConfigError
    path = Path(ctx.find_root().obj["config_path"])
    try:
        src = status_mod.Sources.of(config_mod.load(path))
    except ConfigError as exc:
        found = raw_paths(path)
        if found is None:
            for msg in exc.messages:
                click.echo(msg, err=True)
            sys.exit(2)
        src = status_mod.Sources(path, found[0], found[1], None, exc.messages)
    report = status_mod.collect(src)
    trouble = status_mod.problems(report, max_silence=status_mod.max_silence_seconds(src.config),
                                  channel_grace_minutes=channel_grace_minutes,
                                  max_failing_feeds=max_failing_feeds)
    report["problems"] = trouble
    # stored errors from before redaction existed may still hold a webhook URL
    from monitor import redact
    secrets = redact.config_secrets(src.config) if src.config is not None else []
    click.echo(redact.scrub(status_mod.as_json(report) if as_json else status_mod.as_text(report), secrets))
    if check:
        if not as_json:
            click.echo("health: " + ("OK" if not trouble else "UNHEALTHY"))
            for msg in trouble:
                click.echo(f"  {msg}")
        sys.exit(1 if trouble else 0)


@cli.command()
@click.option("--rules", "rules_dir", default="rules", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="The rules folder to match with.")
def demo(rules_dir: Path) -> None:
    """Run the whole pipeline offline against a local publisher serving the seed articles.

    Starts a tiny HTTP server on 127.0.0.1 with an RSS feed of the five seed articles,
    polls it, matches the shipped rules, writes a digest to files and prints where it is.
    """
    from monitor.cli import demo as demo_mod
    demo_mod.main(rules_path=rules_dir)


cli.add_command(config_group)
cli.add_command(migrate_command)
cli.add_command(backup_command)
cli.add_command(restore_command)
cli.add_command(vacuum_command)
cli.add_command(digest_command)
cli.add_command(extract_command)
cli.add_command(feeds_group)
cli.add_command(rules_group)
cli.add_command(match_command)
cli.add_command(stories_command)
cli.add_command(matches_command)


@cli.command("web-password")
def web_password() -> None:
    """Print a password hash for the web interface's login (for http.password_hash_env).

    Reads the password twice from the terminal (or once from standard input) and prints
    the hash; put it in the environment variable the config names. Example:

        export MONITOR_WEB_PASSWORD_HASH="$(monitor web-password)"
    """
    from monitor.web.security import hash_password
    if sys.stdin.isatty():
        password = click.prompt("password", hide_input=True, confirmation_prompt=True, err=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < 8:
        click.echo("a password needs at least 8 characters", err=True)
        sys.exit(2)
    click.echo(hash_password(password))
