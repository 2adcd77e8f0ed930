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

# files without a date of their own are taken as published a minute after the file before them
# in the order given; the first of them (when no file has a date) at this time
T0 = datetime(2026, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=1)


def _index(ctx: click.Context) -> StoryIndex:
    from monitor.cli.common import optional_config
    from monitor.stories.index import StoryIndex  # numpy: loaded by this command only
    cfg = optional_config(ctx)
    if cfg is None:
        return StoryIndex()
    d = cfg.dedupe
    return StoryIndex(threshold=d.story_threshold, window_hours=d.story_window_hours,
                      date_skew_minutes=d.date_skew_minutes, related_threshold=d.related_threshold)


def publication_times(dates: list[datetime | None], now: datetime, skew: timedelta) -> list[datetime]:
    """When each file counts as published: its own date (`dates`, None for none), as when the
    daemon saw it appear in its feed; a date later than `now` plus `skew` is a wrong clock (the
    daemon's rule, `stories.index.window_time`) and counts as none. A file without a date is
    taken as published a minute after the file before it in the order given (the first ones: a
    minute apart, ending a minute before the earliest dated file; with no date at all from
    `T0`), as if published in that order."""
    dates = [d if d is not None and d <= now + skew else None for d in dates]
    known = [d for d in dates if d is not None]
    lead = next((i for i, d in enumerate(dates) if d is not None), len(dates))
    t = (min(known) - STEP * (lead + 1)) if known else T0 - STEP
    out = []
    for d in dates:
        t = d if d is not None else t + STEP
        out.append(t)
    return out


def group_files(index: StoryIndex, paths: tuple[str, ...], use_dates: bool = True,
                now: datetime | None = None) -> tuple[list[dict], list[str]]:
    """Stories in order of their first file, each with its paths and join decisions; and read errors.

    The files go through the index in order of their publication times (`publication_times`;
    with `use_dates` False, in the order given, a minute apart), ties in the order given, so
    files weeks apart fall in different story windows, as in the daemon."""
    from monitor.stories.dedupe import site_of
    docs, errors = [], []
    for i, path in enumerate(paths):
        try:
            docs.append((i, path, read_document(path)))
        except (OSError, ValueError) as exc:
            errors.append(f"{path}: cannot read: {exc}")
    dates = [doc.published if use_dates else None for _, _, doc in docs]
    times = publication_times(dates, now or datetime.now(UTC), index.skew)
    stories: dict[str, dict] = {}
    path_of: dict[str, str] = {}
    for when, (i, path, doc) in sorted(zip(times, docs, strict=True), key=lambda x: (x[0], x[1][0])):
        key = doc.url if doc.url not in path_of else f"{doc.url}#{i}"   # the same URL twice: still two files
        if not site_of(key):
            key = f"https://file{i}.invalid/{path}"     # a file without a web address: an outlet of its own
        path_of[key] = path
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
@click.option("--ignore-dates", is_flag=True,
              help="Take every file as published in the order given, a minute apart, whatever its own date.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def stories_command(ctx: click.Context, as_json: bool, ignore_dates: bool, paths: tuple[str, ...]) -> None:
    """Group files into stories exactly as the daemon would, and explain each decision.

    Files are read as `monitor match` reads them (.html extracted, .txt first line the
    title, .json an object with title and text). A file that carries its own date (an
    HTML page's article:published_time, datePublished or <time datetime>, else the date
    found on the page; a .json object's "published", ISO 8601 or RFC 2822) is taken as
    published then, as the daemon takes a feed item's date, so files further apart than
    the story window (dedupe.story_window_hours, 72) are never grouped; a date after now
    (plus dedupe.date_skew_minutes) is a wrong clock and counts as none. A file without a
    date (.txt) is taken as published a minute after the file before it in the order
    given. Files are decided in order of those times.

    Each later file either starts a story or joins one: as a near-"copy" (estimated
    Jaccard of word shingles) or as "related" coverage of the same event (shared rare
    names, figures, quotes and title words), with the similarity and what was shared.
    Uses the dedupe settings of the config when there is one. Exit status 1 when a file
    could not be read (the others are still grouped).

    Example: monitor stories --json coverage/*.txt
    """
    stories, errors = group_files(_index(ctx), paths, use_dates=not ignore_dates)
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
