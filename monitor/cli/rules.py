"""The rule commands: `monitor rules check|test|backtest` and `monitor match`.

Owns their options, human and JSON output and exit codes. The rule language lives in
monitor.match; extraction in monitor.extract.article; the store in monitor.store.sqlite. Registered by
monitor/cli.py with `cli.add_command(rules_group)` and `cli.add_command(match_command)`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from json.encoder import encode_basestring  # json.dumps(ensure_ascii=False)'s quoting
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from monitor.cli.common import DEFAULT_CONFIG
from monitor.config import settings as config_mod
from monitor.config import yamlsrc
from monitor.errors import ConfigError, RuleError
from monitor.models import Article, Hit, Match, Why
from monitor.sanitize import json_safe

if TYPE_CHECKING:
    from monitor.match import RuleSet

T = TypeVar("T")
CONTEXT = 40      # characters of context shown either side of a hit


def _quote(s: str) -> str:
    """A JSON string as json.dumps(ensure_ascii=False) quotes it, and DEL, C1 controls and
    U+2028/U+2029 escaped too (sanitize.json_safe): a `match --json` line is safe for a
    terminal by construction and is written without the control-stripping filter, which
    would delete those characters from the data (and scanned every line: 3% of the command)."""
    return json_safe(encode_basestring(s))


OUT_CHUNK = 1 << 16   # `match --json` into a pipe or a file: characters a write (a pipe holds 64 KB)


# -- helpers ----------------------------------------------------------------------------
def _alias_cap() -> int:
    """The config's rules.max_alias_values when a config file is there, else the default."""
    ctx = click.get_current_context(silent=True)
    obj = (ctx.find_root().obj or {}) if ctx else {}
    if isinstance(obj.get("config"), config_mod.Config):
        return obj["config"].rules_max_alias_values
    path = Path(obj.get("config_path") or DEFAULT_CONFIG)
    try:
        return config_mod.load(path).rules_max_alias_values if path.exists() else yamlsrc.DEFAULT_MAX_ALIAS_VALUES
    except ConfigError:          # a broken config must not stop checking the rules
        return yamlsrc.DEFAULT_MAX_ALIAS_VALUES


def _rules_dir(ctx: click.Context, option: Path | None) -> Path:
    """--rules, else the config's rules_path when the config file exists, else rules/."""
    if option is not None:
        return option
    from monitor.cli.common import optional_config
    cfg = optional_config(ctx)
    return cfg.rules_path if cfg else Path("rules")


def _or_exit(read: Callable[..., T], path: Path, code: int) -> T:
    """`read(path)` (load_rules or check_rules); on errors print each FILE:LINE:COL message and exit."""
    try:
        return read(path, max_alias_values=_alias_cap())
    except RuleError as exc:
        for msg in exc.messages:
            click.echo(msg, err=True)
        sys.exit(code)


def _load_or_exit(path: Path, code: int) -> RuleSet:
    from monitor.match import load_rules  # the rule engine: imported by the commands that match
    return _or_exit(load_rules, path, code)


def _article(url: str, title: str = "", text: str = "", summary: str = "", language: str = "",
             feed_tags: Any = (), published: datetime | None = None) -> Article:
    if isinstance(feed_tags, str):
        feed_tags = json.loads(feed_tags) if feed_tags.startswith("[") else [feed_tags]
    return Article(url=url, feed_url="", guid=url, title=title or "", summary=summary or "", text=text or "",
                   language=language or "", feed_tags=tuple(feed_tags or ()), published=published)


def parse_published(value: str) -> datetime | None:
    """A document's own publication time: ISO 8601 ("2025-06-25T14:05:00+02:00", UTC without an
    offset), RFC 2822 ("Wed, 25 Jun 2025 14:05:00 GMT") or a day alone ("2025-06-25", read as
    noon UTC: within half a day of any time that day); None when it is no date."""
    value = value.strip()
    if not value:
        return None
    try:
        if len(value) == 10 and value[:4].isdigit():
            return datetime.fromisoformat(value).replace(hour=12, tzinfo=UTC)
        dt = datetime.fromisoformat(value) if value[:4].isdigit() else parsedate_to_datetime(value)
    except (ValueError, TypeError, IndexError):
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)


def _from_html(html: str | bytes, url: str) -> Article:
    from monitor.extract.article import extract  # trafilatura is slow to import; only when needed
    ex = extract(html, url, published=True)
    return _article(url, ex.title, ex.text, language=ex.language, published=parse_published(ex.published))


def _read_bytes(path: str) -> bytes:
    """The file's bytes by os.read, in chunks under malloc's mmap threshold: the io layers
    of Path.read_bytes cost `monitor match` three times as much per file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def read_document(path: str) -> Article:
    """A file as an article: .html/.htm extracted, .json an object, anything else plain text.

    `published` is the file's own date when it states one: an HTML page's metadata
    (`Extracted.published`), a .json object's "published"; None for plain text."""
    raw = _read_bytes(path).decode("utf-8", errors="replace")    # read_text's result, without a text
    if "\r" in raw:                                               # stream: a tenth of `match --json`
        raw = raw.replace("\r\n", "\n").replace("\r", "\n")      # universal newlines
    name = path.rpartition(os.sep)[2]                  # Path(path).suffix, without a Path per file
    dot = name.rfind(".")
    suffix = name[dot:].lower() if 0 < dot < len(name) - 1 else ""
    if suffix in (".html", ".htm"):
        return _from_html(raw, path)
    if suffix == ".json":
        try:
            obj = json.loads(raw)
        except RecursionError:
            raise ValueError("the JSON is nested too deeply") from None
        if not isinstance(obj, dict):
            raise ValueError("a .json input must be an object with title and text")
        for key in ("url", "title", "text", "summary", "language", "published"):
            if not isinstance(obj.get(key, ""), str):
                raise ValueError(f"{key!r} must be a string, not {type(obj[key]).__name__}")
        return _article(obj.get("url") or path, obj.get("title", ""), obj.get("text", ""),
                        obj.get("summary", ""), obj.get("language", ""), obj.get("feed_tags") or (),
                        parse_published(obj.get("published", "")))
    lines = raw.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    title = lines[first].strip() if first < len(lines) else ""
    return _article(path, title, "\n".join(lines[first + 1:]).strip("\n"))


def _fetch(url: str) -> Article:
    """The page through the daemon's guarded client (size cap, address guard, robots.txt)."""
    from monitor.cli.common import fetch_settings
    from monitor.ingest.fetch import fetch_page_blocking
    page = fetch_page_blocking(url, fetch_settings(click.get_current_context()))
    return _from_html(page.body, page.url)


def _match_json(path: str, matches: list[Match]) -> str:
    """The JSON line of one input: exactly what json.dumps(ensure_ascii=False) gives (with
    DEL, C1 controls and U+2028/U+2029 escaped: `_quote`) for
    {"path", "rules", "matches": [{"rule", "priority", "hits": [{"field", "start", "end",
    "text"}], "hit_count", "why": [{"clause", "hits", "sides"?}]}]}, written directly with
    json's own string quoting, each hit once though `why` repeats it, and the hits and why
    of rules with the same query (which share them, compile.py) once (building the dicts
    took a tenth of `monitor match --json` at 10,000 rules; tests/test_match_cli.py)."""
    done: dict[int, str] = {}       # id of a Hit, or of a tuple of hits or whys -> its JSON

    def hit(h: Hit) -> str:
        text = done.get(id(h))
        if text is None:
            text = done[id(h)] = (f'{{"field": {_quote(h.field)}, "start": {int(h.start)}, '
                                  f'"end": {int(h.end)}, "text": {_quote(h.text)}}}')
        return text

    def hits(found: tuple[Hit, ...]) -> str:
        text = done.get(id(found))
        if text is None:
            text = done[id(found)] = ", ".join(map(hit, found))
        return text

    def why(w: Why) -> str:
        sides = f', "sides": [{", ".join(map(why, w.sides))}]' if w.sides else ""
        return f'{{"clause": {_quote(w.clause)}, "hits": [{hits(w.hits)}]{sides}}}'

    def whys(found: tuple[Why, ...]) -> str:
        text = done.get(id(found))
        if text is None:
            text = done[id(found)] = ", ".join(map(why, found))
        return text

    found = ", ".join(
        f'{{"rule": {_quote(m.rule)}, "priority": {_quote(m.priority)}, "hits": [{hits(m.hits)}], '
        f'"hit_count": {int(m.hit_count or len(m.hits))}, "why": [{whys(m.why)}]}}' for m in matches)
    rules = ", ".join(map(_quote, sorted(m.rule for m in matches)))
    return f'{{"path": {_quote(path)}, "rules": [{rules}], "matches": [{found}]}}'


def highlight(text: str, start: int, end: int, width: int = CONTEXT) -> str:
    """The hit in its context on one line, marked with [[...]]."""
    left = text[max(0, start - width):start]
    right = text[end:end + width]
    flat = " ".join
    return (("…" if start > width else "") + flat(left.split()) + (" " if left[-1:].isspace() else "")
            + "[[" + text[start:end] + "]]" + (" " if right[:1].isspace() else "") + flat(right.split())
            + ("…" if end + width < len(text) else ""))


# -- rules check / test / backtest --------------------------------------------------------
RULES_OPT = click.option("--rules", "rules_dir", type=click.Path(path_type=Path), default=None,
                         help="Rules folder (default: the config's rules path, else rules/).")


@click.group("rules")
def rules_group() -> None:
    """Check, try and backtest watch rules (the language: docs/rules.md)."""


@rules_group.command("check")
@RULES_OPT
@click.pass_context
def check_command(ctx: click.Context, rules_dir: Path | None) -> None:
    """Validate every rule file; print every error as FILE:LINE:COL: message.

    With a config file (--config, or config/monitor.yaml when it exists), every rule's
    `channels:` must name channels the config defines. Warnings (a lowercase
    and/or/not/near between two words, which is matched as a word) are printed on
    standard error as FILE:LINE:COL: warning: ... and do not make the set invalid.
    Exit status 0 when the set is valid, 1 otherwise.

    Example: monitor rules check --rules rules/
    """
    from monitor.cli.common import optional_config
    from monitor.config.crossref import rule_channel_errors
    from monitor.match import check_rules  # validated, not compiled: compiling finds no error of its own
    path = _rules_dir(ctx, rules_dir)
    rs = _or_exit(check_rules, path, 1)
    cfg = optional_config(ctx)
    problems = rule_channel_errors(rs.rules, cfg) if cfg else []
    for msg in problems:
        click.echo(msg, err=True)
    if problems:
        sys.exit(1)
    for warning in rs.warnings:
        click.echo(warning, err=True)
    click.echo(f"{len(rs.rules)} rules, {len(rs.entities)} entities OK"
               + (f" ({len(rs.warnings)} warning{'s' if len(rs.warnings) > 1 else ''})" if rs.warnings else ""))


@rules_group.command("test")
@click.argument("inputs", nargs=-1, required=True, metavar="PATH_OR_URL...")
@RULES_OPT
@click.option("--verbose", "-v", is_flag=True, help="Also list the rules that did not fire, and why.")
@click.pass_context
def test_command(ctx: click.Context, inputs: tuple[str, ...], rules_dir: Path | None, verbose: bool) -> None:
    """Show which rules fire on files or web pages, with every hit highlighted.

    Files: .html/.htm are extracted like the daemon does, .json is an object with
    title/text/summary/language/feed_tags, anything else is text whose first non-empty
    line is the title. URLs (http/https) are fetched and extracted.

    Each fired rule shows `why`: the clauses of its query that were satisfied and their
    decisive hits (marked * in the list of every hit).

    Example: monitor rules test --rules rules/ article.html https://example.org/news/1 -v
    """
    rs = _load_or_exit(_rules_dir(ctx, rules_dir), 2)
    failed = False
    for item in inputs:
        try:
            doc = _fetch(item) if item.startswith(("http://", "https://")) else read_document(item)
        except Exception as exc:  # noqa: BLE001 - any unreadable input is reported, the rest still run
            click.echo(f"{item}: cannot read: {exc}", err=True)
            failed = True
            continue
        click.echo(f"== {item}" + (f"  ({doc.title})" if doc.title else ""))
        _print_verdicts(rs, doc, verbose)
    if failed:
        sys.exit(1)


def _print_verdicts(rs: RuleSet, doc: Article, verbose: bool) -> None:
    fired = 0
    for rule, match, reason in rs.explain(doc):
        if match is None:
            if verbose:
                click.echo(f"   -   {rule.id}: {reason}")
            continue
        fired += 1
        count = match.hit_count or len(match.hits)
        shown = "" if count == len(match.hits) else f", {len(match.hits)} shown"
        click.echo(f"FIRED {rule.id} [{rule.priority}] {rule.title}: {count} hit(s){shown}")
        for w in match.why:
            click.echo(f"   why: {w.clause}  ({', '.join(repr(h.text) for h in w.hits[:8])}"
                       + (", …" if len(w.hits) > 8 else "") + ")")
        decisive = match.decisive_hits()
        for h in match.hits:
            mark = "*" if h in decisive else " "
            click.echo(f"    {mark} {h.field}[{h.start}:{h.end}] {highlight(getattr(doc, h.field), h.start, h.end)}")
    if not fired:
        click.echo("   no rule fired" + ("" if verbose else " (--verbose says why)"))


@rules_group.command("backtest")
@click.argument("rule_ids", nargs=-1, metavar="[RULE_ID...]")
@RULES_OPT
@click.option("--days", type=click.IntRange(min=1), default=7, show_default=True,
              help="Look at articles stored in the last N days.")
@click.option("--limit", type=click.IntRange(min=0), default=20, show_default=True,
              help="Articles listed per rule (counts are always complete).")
@click.pass_context
def backtest_command(ctx: click.Context, rule_ids: tuple[str, ...], rules_dir: Path | None,
                     days: int, limit: int) -> None:
    """Run rules (the current set, or a draft folder) over the articles already stored.

    Shows per rule how many stored articles it would have fired on, with their titles
    and URLs. Needs the config (for the database path).

    Example: monitor rules backtest kallas safe --rules drafts/ --days 30
    """
    from monitor.cli.common import existing_store, load_config
    from monitor.store.sqlite import now_utc

    config = load_config(ctx)
    rs = _load_or_exit(rules_dir or config.rules_path, 2)
    unknown = set(rule_ids) - {r.id for r in rs.rules}
    if unknown:
        raise click.UsageError(f"unknown rule id(s): {', '.join(sorted(unknown))}")
    store = existing_store(config)
    try:
        rows = store.articles(since=now_utc() - timedelta(days=days))
    finally:
        store.close()
    wanted = set(rule_ids) or {r.id for r in rs.rules}
    fired: dict[str, list[dict]] = {rid: [] for rid in sorted(wanted)}
    from monitor.cli.progress import Progress
    with Progress("matching stored articles", "articles") as bar:
        bar.total(len(rows))
        for row in rows:
            doc = _article(row.get("url") or "", row.get("title") or "", row.get("text") or "",
                           row.get("summary") or "", row.get("language") or "", row.get("feed_tags") or ())
            for m in rs.match(doc):
                if m.rule in wanted:
                    fired[m.rule].append(row)
            bar.advance()
    click.echo(f"{len(rows)} articles from the last {days} day(s), {len(wanted)} rule(s)")
    for rid, items in sorted(fired.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        click.echo(f"{rid}: {len(items)}")
        for row in items[:limit]:
            click.echo(f"    {row.get('title') or '(no title)'}  {row.get('url') or ''}")
        if len(items) > limit:
            click.echo(f"    … and {len(items) - limit} more")


# -- match ----------------------------------------------------------------------------------
@click.command("match")
@RULES_OPT
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input, one per line.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def match_command(ctx: click.Context, rules_dir: Path | None, as_json: bool, paths: tuple[str, ...]) -> None:
    """Check files against the rules, without a daemon or a database.

    .html/.htm are extracted like the daemon does; .txt: the first non-empty line is the
    title, the rest the text; .json: an object with title, text and optional summary, url,
    language, feed_tags, published (a string: ISO 8601 or RFC 2822; matching ignores it,
    `monitor stories` dates the file by it). Exit status 0 whether or not anything matched, 2 (errors on
    standard error) when the rules are invalid, 1 when an input could not be read.

    Example: monitor match --rules rules/ --json news/*.txt
    """
    rs = _load_or_exit(rules_dir or Path("rules"), 2)
    failed = False
    # JSON lines go to the stream under the control-stripping filter (terminal.py) as they are:
    # every control character in them is escaped (`_quote`). Each is flushed on a terminal (or
    # write-through, python -u) only. Into a pipe or a file they are gathered and written
    # OUT_CHUNK characters at a time: with sys.stdout's 8 KB
    # buffer a reader on the same core was woken every two or three inputs, and those switches
    # cost the matching about 25 us an article at 10,000 rules (docs/benchmarks.md, seventh round)
    out = getattr(sys.stdout, "raw_stream", sys.stdout)
    direct = out.isatty() or getattr(out, "write_through", False)
    pending: list[str] = []
    size = 0
    try:
        for path in paths:
            try:
                doc = read_document(path)
            except (OSError, ValueError) as exc:
                click.echo(f"{path}: cannot read: {exc}", err=True)
                failed = True
                continue
            matches = rs.match(doc)
            if not as_json:
                click.echo(f"{path}: " + (", ".join(f"{m.rule} ({m.hit_count or len(m.hits)} hits)"
                                                    for m in matches) or "no match"))
            elif direct:
                out.write(_match_json(path, matches) + "\n")
                out.flush()
            else:
                line = _match_json(path, matches) + "\n"
                pending.append(line)
                size += len(line)
                if size >= OUT_CHUNK:
                    out.write("".join(pending))
                    pending.clear()
                    size = 0
    finally:
        if pending:                      # what was matched before an error or an interrupt
            out.write("".join(pending))
    if failed:
        sys.exit(1)
