"""`monitor extract PATH_OR_URL...`: shows what the daemon's extraction gets from pages.

Owns reading the inputs (local .html/.htm/.html.gz files, or URLs through
`fetch_html`) and printing. The extraction itself is `monitor.extract.article.extract`,
exactly the daemon's. Must not hold extraction logic.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import sys
from pathlib import Path

import click

from monitor.errors import FetchError
from monitor.models import Extracted


def fetch_html(url: str) -> bytes:
    """The page at `url`, through the daemon's guarded client (size cap, address guard, robots.txt)."""
    from monitor.cli.common import fetch_settings
    from monitor.ingest.fetch import fetch_page_blocking
    return fetch_page_blocking(url, fetch_settings(click.get_current_context())).body


def read_input(source: str) -> tuple[str | bytes, str]:
    """(html, page url) for a local file or an http(s) URL; the page url is "" for files."""
    if source.startswith(("http://", "https://")):
        return fetch_html(source), source
    path = Path(source)
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    return data.decode("utf-8", errors="replace"), ""


def as_record(source: str, ex: Extracted) -> dict:
    return {"path": source, **dataclasses.asdict(ex)}


def _print_human(source: str, ex: Extracted) -> None:
    click.echo(f"== {source}")
    for name in ("title", "author", "date", "published", "sitename", "language", "canonical_url"):
        click.echo(f"{name + ':':<15}{getattr(ex, name) or '-'}")
    click.echo(f"{'chars:':<15}{len(ex.text)}")
    click.echo("")
    click.echo(ex.text or "(no text extracted)")
    click.echo("")


@click.command("extract")
@click.argument("sources", nargs=-1, required=True, metavar="PATH_OR_URL...")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input and line.")
@click.option("--url", "page_url", default="",
              help="Page URL for local files (resolves a relative canonical link).")
def extract_command(sources: tuple[str, ...], as_json: bool, page_url: str) -> None:
    """Extract article text and metadata from pages, as the daemon would.

    Local files (.html, .htm, .html.gz) are read directly; URLs are fetched.
    Exits 1 if any input could not be read.
    """
    from monitor.extract.article import extract  # trafilatura: imported by the commands that extract
    failed = False
    for source in sources:
        try:
            html, url = read_input(source)
        except (OSError, FetchError, EOFError, gzip.BadGzipFile) as exc:
            click.echo(f"{source}: {exc}", err=True)
            failed = True
            continue
        ex = extract(html, url or page_url, published=True)
        if as_json:
            click.echo(json.dumps(as_record(source, ex), ensure_ascii=False))
        else:
            _print_human(source, ex)
    if failed:
        sys.exit(1)
