"""`monitor digest`: preview what would be sent now, or send everything pending now.

Owns the command's options and output only; the work is in delivery.py and digest.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from monitor import redact
from monitor.cli.common import existing_store, load_config


@click.command("digest")
@click.option("--preview", "mode", flag_value="preview", default=True,
              help="Render what would be sent now; send nothing (the default).")
@click.option("--send", "mode", flag_value="send", help="Send everything pending now, regardless of schedule.")
@click.option("--channel", "channel", default=None, help="Only this channel.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --preview: write the HTML digest to FILE instead of printing text.")
@click.pass_context
def digest_command(ctx: click.Context, mode: str, channel: str | None, html_path: Path | None) -> None:
    """Preview or send digests."""
    import asyncio  # only when it runs: start-up stays short for every other command
    config = load_config(ctx)
    if channel and channel not in [c.name for c in config.channels]:
        click.echo(f"unknown channel {channel!r} (configured: {', '.join(c.name for c in config.channels)})",
                   err=True)
        sys.exit(2)
    from monitor.deliver.delivery import preview, run_digests
    from monitor.deliver.digest import render_html, render_text
    from monitor.store.open import open_store
    store = open_store(config) if mode == "send" else existing_store(config)
    try:
        if mode == "send":
            summary = asyncio.run(run_digests(store, config, force=True,
                                              channels=[channel] if channel else None))
            click.echo(redact.scrub(json.dumps(summary), redact.config_secrets(config)))
            sys.exit(1 if summary["retrying"] or summary["failed"] or summary["errors"] else 0)
        digests = preview(store, config, channel)
    finally:
        store.close()
    if not digests:
        click.echo("nothing pending")
        return
    if html_path:
        html_path.write_text("\n".join(render_html(d) for d in digests), encoding="utf-8")
        click.echo(f"wrote {html_path} ({sum(len(d.items) for d in digests)} items)")
        return
    for d in digests:
        click.echo(f"### channel {d.channel}")
        click.echo(render_text(d))
