"""`monitor stories FILE...`: group files into stories as the daemon would, and say why.

Owns the command's options and its human and JSON output. The decisions are the story
index's (`monitor.stories.index.StoryIndex.assign`), with the dedupe settings of the config
when there is one; files are read as `monitor match` reads them. Must not touch a database.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import click

from monitor.cli.rules import read_document

if TYPE_CHECKING:
    from monitor.stories.index import StoryIndex

# the files are treated as published in the order given, a minute apart, all seen as published
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _index(ctx: click.Context) -> StoryIndex:
    from monitor.cli.common import optional_config
    from monitor.stories.index import StoryIndex  # numpy: loaded by this command only
    cfg = optional_config(ctx)
    if cfg is None:
        return StoryIndex()
    d = cfg.dedupe
    return StoryIndex(threshold=d.story_threshold, window_hours=d.story_window_hours,
                      date_skew_minutes=d.date_skew_minutes, related_threshold=d.related_threshold)


def group_files(index: StoryIndex, paths: tuple[str, ...]) -> tuple[list[dict], list[str]]:
    """Stories in order of their first file, each with its paths and join decisions; and read errors."""
    from monitor.stories.dedupe import site_of
    stories: dict[str, dict] = {}
    path_of: dict[str, str] = {}
    errors: list[str] = []
    for i, path in enumerate(paths):
        try:
            doc = read_document(path)
        except (OSError, ValueError) as exc:
            errors.append(f"{path}: cannot read: {exc}")
            continue
        key = doc.url if doc.url not in path_of else f"{doc.url}#{i}"   # the same URL twice: still two files
        if not site_of(key):
            key = f"https://file{i}.invalid/{path}"     # a file without a web address: an outlet of its own
        path_of[key] = path
        when = T0 + timedelta(minutes=i)
        a = index.assign(key, doc.title, doc.text, when, when)
        if a.is_new_story:
            stories[a.story_key] = {"story": len(stories) + 1, "paths": [path], "decisions": []}
            continue
        story = stories[a.story_key]
        story["paths"].append(path)
        story["decisions"].append({"path": path, "joined": path_of[a.similar_to[0]], "level": a.level,
                                   "similarity": round(a.similarity, 4), "shared": list(a.shared)})
    return list(stories.values()), errors


@click.command("stories")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per story, one per line.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def stories_command(ctx: click.Context, as_json: bool, paths: tuple[str, ...]) -> None:
    """Group files into stories exactly as the daemon would, and explain each decision.

    Files are read as `monitor match` reads them (.html extracted, .txt first line the
    title, .json an object with title and text) and taken as published in the order given.
    Each later file either starts a story or joins one: as a near-"copy" (estimated
    Jaccard of word shingles) or as "related" coverage of the same event (shared rare
    names, figures, quotes and title words), with the similarity and what was shared.
    Uses the dedupe settings of the config when there is one. Exit status 1 when a file
    could not be read (the others are still grouped).

    Example: monitor stories --json coverage/*.txt
    """
    stories, errors = group_files(_index(ctx), paths)
    for msg in errors:
        click.echo(msg, err=True)
    for s in stories:
        if as_json:
            click.echo(json.dumps(s, ensure_ascii=False))
            continue
        click.echo(f"story {s['story']}: {', '.join(s['paths'])}")
        for d in s["decisions"]:
            shared = f"; shared: {', '.join(d['shared'])}" if d["shared"] else ""
            click.echo(f"  {d['path']} joined {d['joined']} as {d['level']} "
                       f"(similarity {d['similarity']:.2f}{shared})")
    if errors:
        sys.exit(1)
