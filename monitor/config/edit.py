"""Editing the config file as text, so comments and layout survive: feeds added, removed, renamed.

Owns the text surgery on the top-level `feeds:` list (`feeds_yaml`, `insert_feeds`,
`remove_feed`, `replace_feed_url`) and writing the result atomically after it validated
(`write_validated`). Must not fetch, nor touch the database.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from monitor.config import settings as config_mod


def write_validated(config_path: Path, updated: str) -> None:
    """Replace the file with updated text atomically; ConfigError (nothing written) if it would not validate."""
    config_mod.parse(updated, str(config_path))
    tmp = config_path.with_name(f".{config_path.name}.tmp")
    tmp.write_text(updated, encoding="utf-8")
    tmp.replace(config_path)


def _feed_items(text: str) -> tuple[object, list]:
    root = yaml.compose(text)
    feeds = next((v for k, v in getattr(root, "value", []) if k.value == "feeds"), None)
    return feeds, list(getattr(feeds, "value", []))


def replace_feed_url(text: str, old: str, new: str) -> str | None:
    """`text` with the `url:` of the feed `old` changed to `new` (all else kept), or None if not found."""
    _, items = _feed_items(text)
    for item in items:
        node = {k.value: v for k, v in getattr(item, "value", [])}.get("url")
        if node is None or getattr(node, "value", None) != old:
            continue
        lines = text.splitlines(keepends=True)
        line = node.start_mark.line
        if node.end_mark.line != line:
            return None      # a URL folded over lines: leave it to the user
        start, end = node.start_mark.column, node.end_mark.column
        quoted = '"' + new.replace("\\", "\\\\").replace('"', '\\"') + '"'
        plain = re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s#,\[\]{}'\"]*", new) and node.style is None
        lines[line] = lines[line][:start] + (new if plain else quoted) + lines[line][end:]
        return "".join(lines)
    return None


def remove_feed(text: str, url: str) -> str | None:
    """`text` without the `feeds:` item whose url is `url` (its lines, comments around it kept)."""
    feeds, items = _feed_items(text)
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
