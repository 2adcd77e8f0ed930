"""The rule tester's logic: a draft rule from a form, its YAML, a timed backtest, a text or URL check.

Owns validating a draft exactly as `rules check` does (the draft is written as a rule
file beside the current entities and loaded by monitor.match), the YAML an analyst
pastes, writing a rule file when the config allows it (validated with the whole folder
first, then replaced atomically), and the backtest: candidates from the search index,
exact evaluation, a time budget and a count of what was scanned, yielded as it goes.
Must not render or hold routes.
"""

from __future__ import annotations

import os
import re
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from monitor.match import RuleSet, load_rules
from monitor.match.rules import ID_RE, load_files, rule_files
from monitor.web import search
from monitor.web.explain import as_article

LIST_KEYS = ("tags", "channels", "languages", "feeds")
TEXT_KEYS = ("id", "title", "query", "exclude", "ignore", "priority")
DRAFT = "<draft>"


@dataclass
class Draft:
    fields: dict[str, Any]
    ruleset: RuleSet | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def rule_id(self) -> str:
        return str(self.fields.get("id") or "draft")


def fields_from(form: Any, base: Any = None) -> dict[str, Any]:
    """The rule's keys from a form (or from an existing rule when the form is empty)."""
    out: dict[str, Any] = {}
    for key in TEXT_KEYS:
        value = str(form.get(key) or (getattr(base, key, "") if base is not None else "") or "").strip()
        if value:
            out[key] = value
    for key in LIST_KEYS:
        raw = form.get(key)
        if raw is None and base is not None:
            items = list(getattr(base, key, ()) or ())
        else:
            items = [x.strip() for x in re.split(r"[,\s]+", str(raw or "")) if x.strip()]
        if items:
            out[key] = items
    min_hits = str(form.get("min_hits") or (getattr(base, "min_hits", 1) if base is not None else 1))
    if min_hits.isdigit() and int(min_hits) != 1:
        out["min_hits"] = int(min_hits)
    out.setdefault("id", "draft")
    return out


def rule_yaml(fields: dict[str, Any]) -> str:
    """The rule as the YAML to paste under `rules:` in a rule file."""
    ordered = {k: fields[k] for k in ("id", "title", "query", "exclude", "ignore", "min_hits", "priority",
                                      "tags", "channels", "languages", "feeds") if k in fields}
    return yaml.safe_dump({"rules": [ordered]}, sort_keys=False, allow_unicode=True, width=100)


def _entities_yaml(entities: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    return {"entities": {str(k): [str(a) for a in v] for k, v in entities.items()}} if entities else {}


def build(fields: dict[str, Any], entities: dict[str, tuple[str, ...]]) -> Draft:
    """Validate the draft with the rule loader itself; errors name the draft, never a temp file."""
    draft = Draft(fields)
    with tempfile.TemporaryDirectory(prefix="monitor-draft-") as tmp:
        path = Path(tmp) / "draft.yaml"
        text = yaml.safe_dump({**_entities_yaml(entities), **yaml.safe_load(rule_yaml(fields))},
                              sort_keys=False, allow_unicode=True, width=100)
        path.write_text(text, encoding="utf-8")
        rules, ents, errors, _warnings = load_files([path])
    draft.errors = [e.replace(str(path), DRAFT) for e in errors]
    if not errors:
        draft.ruleset = RuleSet(rules, ents)
    return draft


def write_rule(rules_dir: Path, fields: dict[str, Any], current: RuleSet | None) -> Path:
    """Write the draft as rules_dir/ID.yaml after validating the whole folder with it; ValueError if not.

    An existing rule is replaced only when it lives alone in its own file (other files
    keep their comments and neighbours: those are edited by hand).
    """
    rule_id = str(fields.get("id") or "")
    if not ID_RE.match(rule_id):
        raise ValueError("a saved rule needs an id of lower-case letters, digits and dashes")
    existing = next((r for r in current.rules if r.id == rule_id), None) if current else None
    target = rules_dir / f"{rule_id}.yaml"
    if existing is not None:
        home = Path(existing.where.rsplit(":", 2)[0])
        others = [r for r in current.rules if r.where.startswith(f"{home}:") and r.id != rule_id] if current else []
        if others:
            raise ValueError(f"rule {rule_id} shares {home} with other rules: paste the YAML there by hand")
        target = home
    text = rule_yaml(fields)
    with tempfile.TemporaryDirectory(prefix="monitor-check-") as tmp:
        trial = Path(tmp) / "rules"
        for f in rule_files(rules_dir):
            dest = trial / f.relative_to(rules_dir)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(f.read_bytes())
        trial_target = trial / target.relative_to(rules_dir)
        trial_target.parent.mkdir(parents=True, exist_ok=True)
        trial_target.write_text(text, encoding="utf-8")
        try:
            load_rules(trial)
        except Exception as exc:
            messages = getattr(exc, "messages", [str(exc)])
            raise ValueError("; ".join(m.replace(str(trial), str(rules_dir)) for m in messages)) from None
    tmp_file = target.with_name(f".{target.name}.tmp")
    tmp_file.write_text(text, encoding="utf-8")
    os.replace(tmp_file, target)
    return target


@dataclass
class Progress:
    scanned: int = 0
    matched: int = 0
    seconds: float = 0.0
    stopped: str = ""          # "" (done), "time budget", "result limit"


def backtest(conn: sqlite3.Connection, ruleset: RuleSet, rule_id: str, since: str, budget_seconds: float,
             rejected: dict[int, set[str]], limit: int = 200, progress: Progress | None = None
             ) -> Iterator[dict]:
    """Yield each stored article the rule matches (newest first) with its hits and the analyst's verdict.

    Stops at the time budget or after `limit` matches; `progress` counts what was scanned.
    """
    progress = progress or Progress()
    rule = next((r for r in ruleset.rules if r.id == rule_id), None)
    if rule is None:
        return
    started = time.monotonic()
    for row in search.candidates(conn, rule.query_ast, since):
        progress.scanned += 1
        progress.seconds = time.monotonic() - started
        if progress.seconds > budget_seconds:
            progress.stopped = "time budget"
            return
        for m in ruleset.match(as_article(row)):
            if m.rule == rule_id:
                progress.matched += 1
                yield {**row, "hits": [{"field": h.field, "start": h.start, "end": h.end, "text": h.text}
                                       for h in m.hits], "rejected": rule_id in rejected.get(row["id"], set())}
                if progress.matched >= limit:
                    progress.stopped = "result limit"
                    return
    progress.seconds = time.monotonic() - started


def rejected_still_matching(conn: sqlite3.Connection, ruleset: RuleSet, rule_id: str,
                            rejected: dict[int, set[str]]) -> list[dict]:
    """Every article marked "not relevant" for this rule, and whether the draft still matches it."""
    ids = [a for a, rules in rejected.items() if rule_id in rules]
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    out = []
    for r in conn.execute(f"SELECT id, url, title, summary, text, language, feed_tags, source FROM articles "
                          f"WHERE id IN ({marks}) ORDER BY id DESC", ids).fetchall():
        row = dict(r)
        fires = any(m.rule == rule_id for m in ruleset.match(as_article(row)))
        out.append({"id": row["id"], "title": row["title"], "source": row["source"], "still_matches": fires})
    return out


def check_text(ruleset: RuleSet, rule_id: str, title: str, text: str, url: str = "") -> dict:
    """The draft on one pasted or fetched document: fired or not, why, and its hits."""
    doc = as_article({"url": url, "title": title, "text": text})
    for item in ruleset.explain(doc):
        rule, match, reason = item[0], item[1], item[2]
        if rule.id == rule_id:
            hits = [{"field": h.field, "start": h.start, "end": h.end, "text": h.text} for h in match.hits] \
                if match else []
            return {"fires": match is not None, "reason": reason, "hits": hits, "title": title, "text": text,
                    "url": url}
    return {"fires": False, "reason": "no such rule", "hits": [], "title": title, "text": text, "url": url}
