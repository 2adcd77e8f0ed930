"""`monitor feeds ...`: import and export OPML, list every feed's health.

Owns these commands' options and output. `import` prints the YAML to paste under
`feeds:` in the config, or with --write inserts it into the config file's `feeds:`
block as text (comments and layout kept) after checking the result still validates.
Must not hold business logic: OPML is opml.py's, feed state is store.py's.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click
import yaml

from monitor.cli.common import existing_store, load_config
from monitor.config import settings as config_mod
from monitor.errors import ConfigError, FeedParseError
from monitor.ingest.opml import export_opml, parse_opml
from monitor.store.sqlite import Store

LIST_COLUMNS = ("state", "last_status", "error_count", "last_success", "next_poll", "url", "last_error")


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
        config_mod.parse(updated, str(config_path))
    except ConfigError as exc:
        click.echo("not written: the config would not validate:", err=True)
        for msg in exc.messages:
            click.echo(f"  {msg}", err=True)
        sys.exit(1)
    tmp = config_path.with_name(f".{config_path.name}.tmp")
    tmp.write_text(updated, encoding="utf-8")
    tmp.replace(config_path)


@feeds_group.command("add")
@click.argument("url")
@click.option("--name", default="", help="The name shown in digests (default: the feed's own title).")
@click.option("--tag", "tags", multiple=True, help="A tag rules can select feeds by (repeatable).")
@click.pass_context
def add_cmd(ctx: click.Context, url: str, name: str, tags: tuple[str, ...]) -> None:
    """Add the feed at URL to the config file (a running daemon picks it up within a minute).

    Example:

        monitor feeds add https://www.politico.eu/feed/ --name "Politico Europe" --tag eu
    """
    config_path = Path(ctx.find_root().obj["config_path"])
    if url in {f.url for f in load_config(ctx).feeds}:
        click.echo(f"{url} is already in {config_path}")
        return
    snippet = feeds_yaml([{"url": url, "name": name, "tags": list(tags)}])
    write_config(config_path, insert_feeds(config_path.read_text(encoding="utf-8"), snippet))
    click.echo(f"added {url} to {config_path}")


@feeds_group.command("remove")
@click.argument("url")
@click.pass_context
def remove_cmd(ctx: click.Context, url: str) -> None:
    """Remove the feed at URL from the config file; its stored articles stay.

    Example:

        monitor feeds remove https://www.politico.eu/feed/
    """
    config_path = Path(ctx.find_root().obj["config_path"])
    text = config_path.read_text(encoding="utf-8")
    updated = remove_feed(text, url)
    if updated is None:
        click.echo(f"{url} is not in {config_path}", err=True)
        sys.exit(1)
    write_config(config_path, updated)
    cfg = load_config(ctx)
    if cfg.state_path.exists():         # no database yet: nothing to mark
        store = existing_store(cfg)
        try:
            store.set_feed_state(url, "removed")
        finally:
            store.close()
    click.echo(f"removed {url} from {config_path}")


def remove_feed(text: str, url: str) -> str | None:
    """`text` without the `feeds:` item whose url is `url` (its lines, comments around it kept)."""
    root = yaml.compose(text)
    feeds = next((v for k, v in getattr(root, "value", []) if k.value == "feeds"), None)
    items = getattr(feeds, "value", [])
    for i, item in enumerate(items):
        fields = {k.value: v for k, v in getattr(item, "value", [])}
        if getattr(fields.get("url"), "value", None) != url:
            continue
        if getattr(feeds, "flow_style", False):
            return None      # a one-line flow list: leave it to the user
        lines = text.splitlines(keepends=True)
        # an item runs from its "- " line to the next item's, or to the end of the list
        if i + 1 < len(items):
            end = items[i + 1].start_mark.line
        else:
            end = item.end_mark.line if item.end_mark.column == 0 else item.end_mark.line + 1
        return "".join(lines[:item.start_mark.line] + lines[end:])
    return None


@feeds_group.command("pause")
@click.argument("url")
@click.pass_context
def pause_cmd(ctx: click.Context, url: str) -> None:
    """Stop polling the feed at URL until `monitor feeds resume URL` (it stays in the config).

    Example:

        monitor feeds pause https://www.politico.eu/feed/
    """
    _set_state(ctx, url, "paused")


@feeds_group.command("resume")
@click.argument("url")
@click.pass_context
def resume_cmd(ctx: click.Context, url: str) -> None:
    """Poll a paused (or retired) feed again, from the next cycle on.

    Example:

        monitor feeds resume https://www.politico.eu/feed/
    """
    _set_state(ctx, url, "active")


def _set_state(ctx: click.Context, url: str, state: str) -> None:
    cfg = load_config(ctx)
    store = Store(cfg.state_path)
    try:
        store.sync_feeds([f for f in cfg.feeds if f.enabled])
        if not store.set_feed_state(url, state):
            click.echo(f"no feed {url} (see `monitor feeds list`)", err=True)
            sys.exit(1)
    finally:
        store.close()
    click.echo(f"{url}: {state}")


def feeds_yaml(feeds: list[dict]) -> str:
    """The feeds as items of a YAML list, at indent 2."""
    if not feeds:
        return ""
    items = [{"url": f["url"], **({"name": f["name"]} if f["name"] else {}),
              **({"tags": list(f["tags"])} if f["tags"] else {})} for f in feeds]
    dumped = yaml.safe_dump(items, allow_unicode=True, sort_keys=False, default_flow_style=None, width=1000)
    return "".join("  " + line + "\n" for line in dumped.splitlines())


def insert_feeds(text: str, snippet: str) -> str:
    """`text` with the snippet's list items appended to its top-level `feeds:` block."""
    if not snippet:
        return text
    lines = text.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if re.match(r"^feeds:\s*(\[\s*\])?\s*(#.*)?$", ln)), None)
    if start is None:
        return text + ("" if text.endswith("\n") or not text else "\n") + "feeds:\n" + snippet
    lines[start] = "feeds:\n"        # "feeds: []" becomes a block
    end = start + 1
    last_item = start
    while end < len(lines) and not re.match(r"^[^\s#-]", lines[end]):
        if lines[end].strip() and not lines[end].lstrip().startswith("#"):
            last_item = end
        end += 1
    indent = ""
    for ln in lines[start + 1:last_item + 1]:
        m = re.match(r"^(\s*)- ", ln)
        if m:
            indent = m.group(1)
            break
    items = snippet if indent == "  " or last_item == start else "".join(
        indent + ln[2:] + "\n" for ln in snippet.splitlines())
    return "".join(lines[:last_item + 1] + [items] + lines[last_item + 1:])


@feeds_group.command("export")
@click.pass_context
def export_cmd(ctx: click.Context) -> None:
    """Print the configured feeds as OPML 2.0."""
    click.echo(export_opml(load_config(ctx).feeds), nl=False)


@feeds_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per feed, in a list.")
@click.pass_context
def list_cmd(ctx: click.Context, as_json: bool) -> None:
    """Every feed's health from the state database (configured but never polled: state 'new')."""

    config = load_config(ctx)
    rows: dict[str, dict] = {}
    if config.state_path.exists():      # before the first start every feed is simply new
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
