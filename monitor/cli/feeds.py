"""`monitor feeds ...`: import and export OPML, list every feed's health.

Owns these commands' options and output. `import` prints the YAML to paste under
`feeds:` in the config, or with --write inserts it into the config file's `feeds:`
block as text (comments and layout kept) after checking the result still validates.
Must not hold business logic: OPML is opml.py's, feed state is store.py's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from monitor.cli.common import existing_store, load_config
from monitor.config import settings as config_mod
from monitor.config.edit import feeds_yaml, insert_feeds, remove_feed, write_validated
from monitor.errors import ConfigError, FeedParseError

LIST_COLUMNS = ("state", "last_status", "error_count", "last_success", "next_poll", "url", "last_error")


def _state_exists(cfg: config_mod.Config) -> bool:
    """Whether the state (SQLite file or PostgreSQL schema) holds a monitor database yet."""
    from monitor.store.open import state_exists
    return state_exists(cfg)


@click.group("feeds")
def feeds_group() -> None:
    """Import/export OPML and show feed health."""


@feeds_group.command("import")
@click.argument("opml_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--write", is_flag=True, help="Insert the new feeds into the config file's feeds: list.")
@click.pass_context
def import_cmd(ctx: click.Context, opml_file: Path, write: bool) -> None:
    """Read OPML_FILE; print the feeds as YAML for the config (or --write them into it).

    Feeds already in the config are skipped; OPML folders become tags.
    """
    from monitor.ingest.opml import parse_opml
    try:
        found = parse_opml(opml_file.read_bytes())
    except FeedParseError as exc:
        click.echo(f"{opml_file}: {exc}", err=True)
        sys.exit(1)
    config_path = Path(ctx.find_root().obj["config_path"])
    known = {f.url for f in load_config(ctx).feeds} if write or config_path.exists() else set()
    new = [f for f in found if f["url"] not in known]
    snippet = feeds_yaml(new)
    if not write:
        click.echo(snippet, nl=False)
        click.echo(f"# {len(new)} new of {len(found)} feeds in {opml_file}", err=True)
        return
    write_config(config_path, insert_feeds(config_path.read_text(encoding="utf-8"), snippet))
    click.echo(f"added {len(new)} feeds to {config_path} ({len(found) - len(new)} already there)")


def write_config(config_path: Path, updated: str) -> None:
    """Validate the new config text, then replace the file atomically; exit 1 if it would not validate."""
    try:
        write_validated(config_path, updated)
    except ConfigError as exc:
        click.echo("not written: the config would not validate:", err=True)
        for msg in exc.messages:
            click.echo(f"  {msg}", err=True)
        sys.exit(1)


@feeds_group.command("add")
@click.argument("url")
@click.option("--name", default="", help="The name shown in digests (default: the feed's own title).")
@click.option("--tag", "tags", multiple=True, help="A tag rules can select feeds by (repeatable).")
@click.option("--force", is_flag=True, help="Add the URL as it is, without fetching it or even if it is not a feed.")
@click.pass_context
def add_cmd(ctx: click.Context, url: str, name: str, tags: tuple[str, ...], force: bool) -> None:
    """Add the feed at URL to the config file (a running daemon picks it up within a minute).

    URL is fetched once: a feed is added under its final address (after permanent
    redirects); on a web page its feed is found (<link rel="alternate">, then the usual
    paths such as /feed and /rss.xml). Anything else (a 404, a page without a feed) is
    refused unless --force. Its first poll records the backlog as seen and alerts only on
    items of the last `fetch.first_poll_alert_hours`. Example:

        \b
        monitor feeds add https://www.politico.eu/feed/ --name "Politico Europe" --tag eu
    """
    config_path = Path(ctx.find_root().obj["config_path"])
    cfg = load_config(ctx)
    if url in {f.url for f in cfg.feeds}:
        click.echo(f"{url} is already in {config_path}")
        return
    if not force:
        url = _probed(url, cfg)
        if url in {f.url for f in cfg.feeds}:
            click.echo(f"{url} is already in {config_path}")
            return
    snippet = feeds_yaml([{"url": url, "name": name, "tags": list(tags)}])
    write_config(config_path, insert_feeds(config_path.read_text(encoding="utf-8"), snippet))
    click.echo(f"added {url} to {config_path}")


def _probed(url: str, cfg: config_mod.Config) -> str:
    """The feed URL to add for url (itself, where it moved, or the feed its page declares); exit 1 if none."""
    import asyncio

    from monitor.ingest.discover import probe
    from monitor.ingest.fetch import Fetcher

    async def go():
        async with Fetcher(cfg.fetch) as fetcher:
            return await probe(fetcher, url, cfg.fetch.max_entries_per_feed)
    try:
        found = asyncio.run(go())
    except ValueError as exc:          # not a URL httpx can request
        found = None
        problem = str(exc)
    if found is None or found.url is None:
        problem = found.problem if found else problem
        click.echo(f"not added: {url}: {problem}. Use --force to add it anyway.", err=True)
        sys.exit(1)
    title = f" ({found.title})" if found.title else ""
    if found.found_on_page:
        click.echo(f"found the feed {found.url}{title} on {url}")
    elif found.url != url:
        click.echo(f"{url} moved permanently to {found.url}; adding the new address")
    click.echo(f"{found.entries} items in the feed{title}")
    return found.url


@feeds_group.command("remove")
@click.argument("url")
@click.pass_context
def remove_cmd(ctx: click.Context, url: str) -> None:
    """Remove the feed at URL from the config file; its stored articles stay.

    Example:

        \b
        monitor feeds remove https://www.politico.eu/feed/
    """
    config_path = Path(ctx.find_root().obj["config_path"])
    cfg = load_config(ctx)
    aliases = _addresses(cfg, url)      # a feed that moved (301) is known by both addresses
    text = config_path.read_text(encoding="utf-8")
    updated = next((u for u in (remove_feed(text, a) for a in aliases) if u is not None), None)
    if updated is None:
        click.echo(f"{url} is not in {config_path}", err=True)
        sys.exit(1)
    write_config(config_path, updated)
    if _state_exists(cfg):         # no database yet: nothing to mark
        store = existing_store(cfg)
        try:
            for a in aliases:
                store.set_feed_state(a, "removed")
        finally:
            store.close()
    click.echo(f"removed {url} from {config_path}")


def _addresses(cfg: config_mod.Config, url: str) -> list[str]:
    """url, plus the feed's other address when the store knows it moved (old <-> new)."""
    out = [url]
    if _state_exists(cfg):
        store = existing_store(cfg)
        try:
            for row in store.feeds():
                if url in (row["url"], row.get("moved_from")):
                    out += [a for a in (row["url"], row.get("moved_from")) if a and a not in out]
        finally:
            store.close()
    return out


@feeds_group.command("pause")
@click.argument("url")
@click.pass_context
def pause_cmd(ctx: click.Context, url: str) -> None:
    """Stop polling the feed at URL until `monitor feeds resume URL` (it stays in the config).

    Example:

        \b
        monitor feeds pause https://www.politico.eu/feed/
    """
    _set_state(ctx, url, "paused")


@feeds_group.command("resume")
@click.argument("url")
@click.pass_context
def resume_cmd(ctx: click.Context, url: str) -> None:
    """Poll a paused (or retired) feed again, from the next cycle on.

    Example:

        \b
        monitor feeds resume https://www.politico.eu/feed/
    """
    _set_state(ctx, url, "active")


def _set_state(ctx: click.Context, url: str, state: str) -> None:
    cfg = load_config(ctx)
    from monitor.store.open import open_store
    store = open_store(cfg)
    try:
        store.sync_feeds([f for f in cfg.feeds if f.enabled])
        if not store.set_feed_state(url, state):
            click.echo(f"no feed {url} (see `monitor feeds list`)", err=True)
            sys.exit(1)
    finally:
        store.close()
    click.echo(f"{url}: {state}")


@feeds_group.command("export")
@click.pass_context
def export_cmd(ctx: click.Context) -> None:
    """Print the configured feeds as OPML 2.0."""
    from monitor.ingest.opml import export_opml
    click.echo(export_opml(load_config(ctx).feeds), nl=False)


@feeds_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per feed, in a list.")
@click.pass_context
def list_cmd(ctx: click.Context, as_json: bool) -> None:
    """Every feed's health from the state database (configured but never polled: state 'new')."""

    config = load_config(ctx)
    rows: dict[str, dict] = {}
    if _state_exists(config):      # before the first start every feed is simply new
        store = existing_store(config)
        try:
            rows = {r["url"]: r for r in store.feeds()}
        finally:
            store.close()
    for f in config.feeds:
        if f.url not in rows and not any(r.get("moved_from") == f.url for r in rows.values()):
            rows[f.url] = {"url": f.url, "name": f.name, "state": "new", "error_count": 0}
    out = [{k: r.get(k) for k in ("url", "name", "state", "last_success", "last_error", "error_count",
                                  "next_poll", "last_status")} for r in sorted(rows.values(), key=_key)]
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(_table(out))


def _key(r: dict) -> tuple:
    return (-(r.get("error_count") or 0), r["url"])


def _table(rows: list[dict]) -> str:
    cells = [[_cell(r.get(c)) for c in LIST_COLUMNS] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(LIST_COLUMNS)]
    fmt = "  ".join(f"{{:{w}}}" for w in widths)
    lines = [fmt.format(*LIST_COLUMNS).rstrip()] + [fmt.format(*row).rstrip() for row in cells]
    failing = sum(1 for r in rows if r.get("error_count"))
    return "\n".join(lines) + f"\n{len(rows)} feeds, {failing} failing"


def _cell(v: object) -> str:
    if v is None:
        return "-"
    s = str(v).replace("\n", " ")
    return s if len(s) <= 60 else s[:57] + "..."
