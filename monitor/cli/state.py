"""`monitor migrate`, `backup FILE`, `restore FILE`, `vacuum`: the state database's upkeep.

Owns these commands' options, messages and exit codes; the work is in store.sqlite and
store.pg_base (migrations), store.backup (SQLite's backup API), store.vacuum and, for
`migrate --to`, cli/transfer.py. Restoring and the full vacuum refuse while a daemon
holds the state's lock; backup, restore and vacuum are SQLite's (PostgreSQL has pg_dump
and autovacuum). Must not hold business logic.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from monitor.cli.common import load_config
from monitor.errors import MonitorError


@click.command("migrate")
@click.option("--to", "to_url", metavar="URL",
              help="Copy the SQLite state into the PostgreSQL database at URL (postgresql://user@host/db), "
                   "then verify it by per-table counts. Resumable: run it again to continue.")
@click.option("--from", "from_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The SQLite state to copy (default: state.path; needed when the config already names "
                   "PostgreSQL, which is then the target if --to is not given).")
@click.option("--password-env", metavar="VAR", help="Environment variable holding the target's password.")
@click.option("--batch", type=click.IntRange(1, 100_000), default=1000, show_default=True,
              help="Rows per PostgreSQL transaction while copying.")
@click.pass_context
def migrate_command(ctx: click.Context, to_url: str | None, from_path: Path | None, password_env: str | None,
                    batch: int) -> None:
    """Create the state, or upgrade it to this monitor's schema (`monitor run` does it on start too).

    With --to (or --from), copy an existing SQLite state into PostgreSQL instead: stop the
    daemon first, then point the config at the database (state.url) and start the workers.

    Examples:

        \b
        monitor migrate
        monitor migrate --to postgresql://monitor@db.internal/monitor --password-env MONITOR_DB_PASSWORD
    """
    cfg = load_config(ctx)
    if to_url or from_path:
        from monitor.cli.transfer import transfer
        sys.exit(transfer(cfg, to_url, from_path, password_env, batch))
    if cfg.postgres is not None:
        _migrate_postgres(cfg)
        return
    from monitor.store.sqlite import MIGRATIONS, Store
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


def _migrate_postgres(cfg) -> None:
    from monitor.store.open import open_store, state_label
    from monitor.store.pg_schema import PG_MIGRATIONS
    store = open_store(cfg, migrate=False)
    try:
        before = store.schema_version()
        if before > len(PG_MIGRATIONS):
            click.echo(f"the database at {state_label(cfg)} has schema {before}, newer than this monitor "
                       f"({len(PG_MIGRATIONS)})", err=True)
            sys.exit(2)
        store.migrate()
    finally:
        store.close()
    verb = "created" if before == 0 else "upgraded" if before < len(PG_MIGRATIONS) else "already at"
    click.echo(f"{state_label(cfg)}: {verb} schema version {len(PG_MIGRATIONS)}"
               + (f" (was {before})" if 0 < before < len(PG_MIGRATIONS) else ""))


def _sqlite_only(cfg, what: str) -> None:
    if cfg.postgres is not None:
        click.echo(f"monitor {what} works on a SQLite state; this config uses PostgreSQL (state.url): use "
                   "PostgreSQL's own pg_dump / pg_restore (see docs/operations.md)", err=True)
        sys.exit(2)


@click.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def backup_command(ctx: click.Context, target: Path) -> None:
    """Write a consistent copy of the state database to TARGET, safe while the daemon runs.

    Uses SQLite's online backup API (the write-ahead log included). Example:

        \b
        monitor backup /var/backups/monitor-$(date +%F).db
    """
    from monitor.store.backup import backup
    cfg = load_config(ctx)
    _sqlite_only(cfg, "backup")
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

        \b
        monitor restore /var/backups/monitor-2026-01-31.db
    """
    from monitor.daemon.lock import AlreadyRunning, StateLock
    from monitor.store.backup import restore
    cfg = load_config(ctx)
    _sqlite_only(cfg, "restore")
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

        \b
        monitor vacuum
    """
    from monitor.daemon.lock import AlreadyRunning, StateLock
    from monitor.store.vacuum import convert
    cfg = load_config(ctx)
    if cfg.postgres is not None:
        click.echo("monitor vacuum is for a SQLite state; PostgreSQL reclaims space itself (autovacuum)", err=True)
        sys.exit(2)
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
