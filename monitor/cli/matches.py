"""`monitor matches`: what fired lately, one line (or JSON object) per story, as the web page lists it.

Owns the command's options (--rule, --since, --priority, --tag, --limit, --json) and its
output. The query is the matches page's own (monitor.web.queries.match_stories) on a
read-only connection. Must not hold SQL.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime, timedelta

import click

from monitor.cli.common import load_config
from monitor.sanitize import one_line

UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str) -> str:
    """'30m', '12h', '1d', '2w' before now, or a date/time (ISO); as an ISO UTC time."""
    m = re.fullmatch(r"(\d+)([mhdw])", value.strip())
    if m:
        return (datetime.now(UTC) - timedelta(**{UNITS[m[2]]: int(m[1])})).isoformat(timespec="seconds")
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use a duration like 30m, 12h, 1d, 2w or a date like 2026-01-31") from None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC).isoformat(timespec="seconds")


@click.command("matches")
@click.option("--rule", default="", help="Only this rule's matches.")
@click.option("--since", "since", default="1d", show_default=True,
              help="How far back: 30m, 12h, 1d, 2w, or a date such as 2026-01-31.")
@click.option("--priority", type=click.Choice(["high", "normal", "low"]), default=None, help="Only this priority.")
@click.option("--tag", default="", help="Only articles from feeds with this tag.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True, help="Stories at most.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per story, one per line.")
@click.pass_context
def matches_command(ctx: click.Context, rule: str, since: str, priority: str | None, tag: str, limit: int,
                    as_json: bool) -> None:
    """List the latest matches grouped by story, newest first (what the web interface's front page shows).

    Example: monitor matches --rule kallas --since 2d --json
    """
    from monitor.web import queries
    from monitor.web.db import reading, target_of

    cfg = load_config(ctx)
    f = queries.MatchFilter(rule=rule, priority=priority or "", tag=tag, since=parse_since(since))
    from monitor.store.open import state_exists, state_label
    if not state_exists(cfg):
        click.echo(f"{state_label(cfg)}: no state database yet (run `monitor poll --once` first)", err=True)
        sys.exit(1)
    with reading(target_of(cfg)) as conn:
        stories, more = queries.match_stories(conn, f, limit)
    for s in stories:
        lead = s["lead"]
        if as_json:
            click.echo(json.dumps({
                "story": s["story"], "last_match": s["last_match"], "rules": s["rules"],
                "articles": [{"id": a["id"], "title": a["title"], "url": a["url"], "source": a["source"],
                              "published": a["published"], "matched": a["matched"],
                              "rules": [m["rule"] for m in a["matches"]],
                              "not_relevant": [m["rule"] for m in a["matches"] if m["verdict"]]}
                             for a in s["articles"]],
                "outlets": [{"id": a["id"], "title": a["title"], "url": a["url"], "source": a["source"],
                             "published": a["published"]} for a in s["outlets"]]}, ensure_ascii=False))
            continue
        when = (s["last_match"] or "")[:16].replace("T", " ")
        # publisher text on a terminal: no control characters, no forged lines
        click.echo(one_line(f"{when}  [{', '.join(s['rules'])}]  {lead['title'] or '(no title)'}  ({lead['source']})"))
        click.echo("    " + one_line(lead["url"]))
        for a in s["outlets"]:
            click.echo(one_line(f"    also: {a['source']}: {a['url']}"))
    if not as_json:
        click.echo(f"{len(stories)} stor{'y' if len(stories) == 1 else 'ies'}"
                   + (" (more: raise --limit)" if more else ""), err=True)
