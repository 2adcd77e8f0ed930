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

from monitor import config as config_mod
from monitor.cli import load_config
from monitor.errors import ConfigError, FeedParseError
from monitor.opml import export_opml, parse_opml

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
    text = config_path.read_text(encoding="utf-8")
    updated = insert_feeds(text, snippet)
    try:
        config_mod.parse(updated, str(config_path))
    except ConfigError as exc:
        click.echo("not written: the config would not validate:", err=True)
        for msg in exc.messages:
            click.echo(f"  {msg}", err=True)
        sys.exit(1)
    config_path.write_text(updated, encoding="utf-8")
    click.echo(f"added {len(new)} feeds to {config_path} ({len(found) - len(new)} already there)")


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
    from monitor.store import Store

    config = load_config(ctx)
    store = Store(config.state_path)
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
