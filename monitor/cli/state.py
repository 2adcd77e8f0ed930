"""`monitor migrate`, `backup FILE`, `restore FILE`, `vacuum`: the state database's upkeep.

Owns these commands' options, messages and exit codes; the work is in store.sqlite
(migrations), store.backup (SQLite's backup API) and store.vacuum. Restoring and the
full vacuum refuse while a daemon holds the state's lock. Must not hold business logic.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from monitor.cli.common import load_config
from monitor.errors import MonitorError


@click.command("migrate")
@click.pass_context
def migrate_command(ctx: click.Context) -> None:
    """Create the database, or upgrade it to this monitor's schema (`monitor run` does it on start too).

    Example:

        monitor migrate
    """
    from monitor.store.sqlite import MIGRATIONS, Store
    cfg = load_config(ctx)
    existed = cfg.state_path.exists()
    store = Store(cfg.state_path, create=False) if existed else None
    before = store.schema_version() if store else 0
    if store:
        store.close()
    if before > len(MIGRATIONS):
        click.echo(f"the database at {cfg.state_path} has schema {before}, newer than this monitor "
                   f"({len(MIGRATIONS)})", err=True)
        sys.exit(2)
    Store(cfg.state_path).close()
    verb = "created" if not existed else "upgraded" if before < len(MIGRATIONS) else "already at"
    click.echo(f"{cfg.state_path}: {verb} schema version {len(MIGRATIONS)}"
               + (f" (was {before})" if existed and before < len(MIGRATIONS) else ""))


@click.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def backup_command(ctx: click.Context, target: Path) -> None:
    """Write a consistent copy of the state database to TARGET, safe while the daemon runs.

    Uses SQLite's online backup API (the write-ahead log included). Example:

        monitor backup /var/backups/monitor-$(date +%F).db
    """
    from monitor.store.backup import backup
    cfg = load_config(ctx)
    try:
        size = backup(cfg.state_path, target)
    except MonitorError as exc:
        click.echo(f"backup failed: {exc}", err=True)
        sys.exit(1)
    click.echo(f"backed up {cfg.state_path} to {target} ({size / 1e6:.1f} MB)")


@click.command("restore")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def restore_command(ctx: click.Context, source: Path) -> None:
    """Put the backup SOURCE in place of the state database (the daemon must be stopped).

    The backup is checked first; the current database is kept beside it as
    `monitor.db.before-restore-TIMESTAMP`. An older backup is upgraded when the daemon
    next starts. Example:

        monitor restore /var/backups/monitor-2026-01-31.db
    """
    from monitor.daemon.lock import AlreadyRunning, StateLock
    from monitor.store.backup import restore
    cfg = load_config(ctx)
    try:
        with StateLock(cfg.state_path):      # no daemon may start on it meanwhile either
            kept = restore(source, cfg.state_path)
    except AlreadyRunning as exc:
        click.echo(f"not restored: {exc}", err=True)
        sys.exit(2)
    except MonitorError as exc:
        click.echo(f"not restored: {exc}", err=True)
        sys.exit(1)
    click.echo(f"restored {source} to {cfg.state_path}" + (f"; the previous database is kept as {kept}" if kept else ""))


@click.command("vacuum")
@click.pass_context
def vacuum_command(ctx: click.Context) -> None:
    """Compact the state database once and switch it to incremental vacuum (the daemon must be stopped).

    A database made by an older monitor keeps the space retention frees inside the file;
    this rewrites it once (a full VACUUM: as long as copying the file, with room for a
    second copy), after which the daemon's housekeeping returns freed space by itself
    (`state.vacuum`). Databases made since are incremental from the start. Example:

        monitor vacuum
    """
    from monitor.daemon.lock import AlreadyRunning, StateLock
    from monitor.store.vacuum import convert
    cfg = load_config(ctx)
    if not cfg.state_path.exists():
        click.echo(f"no state database at {cfg.state_path}", err=True)
        sys.exit(1)
    try:
        with StateLock(cfg.state_path):
            report = convert(cfg.state_path)
    except AlreadyRunning as exc:
        click.echo(f"not vacuumed: {exc}", err=True)
        sys.exit(2)
    except Exception as exc:  # sqlite3.Error, OSError: the file is left as it was
        click.echo(f"not vacuumed: {cfg.state_path}: {exc}", err=True)
        sys.exit(1)
    click.echo(f"{cfg.state_path}: {report.bytes_before / 1e6:.1f} MB -> {report.bytes_after / 1e6:.1f} MB, "
               f"auto_vacuum {report.mode}")
