"""`monitor demo`: the whole pipeline, offline, against a local publisher of the seed articles.

Owns the demo publisher (a tiny threaded HTTP server on 127.0.0.1 serving an RSS feed
and one HTML page per seed article) and the demo's throwaway config. Uses exactly the
daemon's pipeline and delivery; writes its state under state/demo/.
"""

from __future__ import annotations

import html
import shutil
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

import click

from monitor.config import settings as config_mod

SKIP = ("date ", "advertisement", "international", "world", "london", "wednesday", "thursday")


def seed_articles() -> list[tuple[str, str, list[str]]]:
    """(slug, title, paragraphs) for each seed file shipped with the package."""
    out = []
    files = sorted((p for p in resources.files("monitor.cli").joinpath("demo_articles").iterdir() if p.name.endswith(".txt")),
                   key=lambda p: p.name)
    for f in files:
        lines = [ln.strip() for ln in f.read_text(encoding="utf-8").splitlines() if ln.strip()]
        # The seeds are raw page captures: the title is the first line that reads like a headline.
        title = next((ln for ln in lines if 6 <= len(ln.split()) <= 25 and len(ln) < 200
                      and not ln.lower().startswith(SKIP) and ln[0] not in "\"“‘'"), lines[0])
        body = [ln for ln in lines if ln != title and len(ln.split()) >= 4]
        out.append((f.name.split("_")[0], title, body))
    return out


def _pages(base: str) -> dict[str, tuple[str, bytes]]:
    arts = seed_articles()
    items = "".join(
        f"<item><guid>{base}/articles/{slug}.html</guid><title>{html.escape(title)}</title>"
        f"<link>{base}/articles/{slug}.html?utm_source=rss</link>"
        f"<pubDate>{formatdate(1769558400 + 3600 * i, usegmt=True)}</pubDate>"
        f"<description>{html.escape(body[0] if body else '')}</description></item>"
        for i, (slug, title, body) in enumerate(arts))
    feed = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Seed Desk</title>'
            f"<link>{base}/</link><description>The seed articles</description>{items}</channel></rss>")
    pages = {"/feed.xml": ("application/rss+xml", feed.encode())}
    for slug, title, body in arts:
        paras = "".join(f"<p>{html.escape(p)}</p>" for p in body)
        page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
                f'<link rel="canonical" href="{base}/articles/{slug}.html"></head><body><main><article>'
                f"<h1>{html.escape(title)}</h1>{paras}</article></main></body></html>")
        pages[f"/articles/{slug}.html"] = ("text/html; charset=utf-8", page.encode())
    return pages


class _Publisher(ThreadingHTTPServer):
    pages: dict[str, tuple[str, bytes]] = {}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = self.path.split("?", 1)[0]
        ctype, body = self.server.pages.get(path, ("text/plain", b""))  # type: ignore[attr-defined]
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def start_publisher() -> tuple[_Publisher, str]:
    server = _Publisher(("127.0.0.1", 0), _Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    server.pages = _pages(base)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, base


def demo_config(base: str, state_dir: Path, rules_path: Path) -> config_mod.Config:
    text = f"""
state: {{path: {state_dir / 'monitor.db'}, digests_dir: {state_dir / 'digests'}}}
rules: {{path: {rules_path}}}
fetch: {{allow_private: ["127.0.0.1/32"], respect_robots: false, first_poll_alert_hours: all}}
channels: [{{name: archive, type: file, schedule: hourly}}]
feeds: [{{url: "{base}/feed.xml", name: Seed Desk, tags: [demo]}}]
"""
    return config_mod.parse(text, "<demo config>")


async def _run(cfg: config_mod.Config) -> tuple[str, dict]:
    from monitor.daemon import pipeline
    from monitor.daemon import run as daemon
    from monitor.deliver.delivery import run_digests
    async with daemon.open_deps(cfg, use_pool=False) as deps:
        if deps.rules.current is None:
            raise click.ClickException("the rules are invalid:\n" + "\n".join(deps.rules.errors))
        summary = await pipeline.poll_cycle(deps, every_feed=True)
        sent = await run_digests(deps.store, cfg, force=True)
    return summary.line(), sent


def main(rules_path: Path = Path("rules"), state_dir: Path = Path("state/demo")) -> Path:
    import asyncio  # only when it runs: start-up stays short for every other command
    shutil.rmtree(state_dir, ignore_errors=True)
    state_dir.mkdir(parents=True)
    server, base = start_publisher()
    try:
        cfg = demo_config(base, state_dir.resolve(), rules_path.resolve())
        line, sent = asyncio.run(_run(cfg))
    finally:
        server.shutdown()
    click.echo(f"publisher: {base}/feed.xml (5 seed articles)")
    click.echo(line)
    click.echo("digest: " + ", ".join(f"{k} {v}" for k, v in sent.items()))
    files = sorted(cfg.digests_dir.glob("*")) if cfg.digests_dir.exists() else []
    for f in files:
        click.echo(f"  wrote {f}")
    if not files:
        click.echo("  no digest written (nothing matched?)")
    return cfg.digests_dir
