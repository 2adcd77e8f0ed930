"""Loading rule files: YAML -> validated `Rule` records with resolved query trees.

Owns the file format (top-level keys, rule keys, entity definitions), validation and
every error message as `FILE:LINE:COL: message` (all of them at once), including the
column of a bad query token inside the file. Must not evaluate queries against text.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from monitor.config import yamlsrc
from monitor.config.checker import did_you_mean
from monitor.match import parse as p
from monitor.match.incremental import LoadCache

RULE_KEYS = ("id", "title", "query", "exclude", "ignore", "min_hits", "priority", "tags",
             "channels", "languages", "feeds", "enabled")
TOP_KEYS = ("entities", "rules")
PRIORITIES = ("high", "normal", "low")
ID_RE = re.compile(r"[a-z0-9][a-z0-9-]*$")
ENTITY_RE = re.compile(r"[a-z0-9_-]+$")
LANG_RE = re.compile(r"[a-z]{2}$")


@dataclass(frozen=True, slots=True)
class Rule:
    """One watch rule as written, plus its parsed and entity-resolved query trees."""

    id: str
    query: str
    title: str = ""
    exclude: str = ""
    ignore: str = ""
    min_hits: int = 1
    priority: str = "normal"
    tags: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()
    enabled: bool = True
    where: str = ""                                   # FILE:LINE:COL of the rule
    channel_where: tuple[str, ...] = field(default=(), repr=False, compare=False)  # of each channel name
    query_ast: Any = field(default=None, repr=False, compare=False)
    exclude_ast: Any = field(default=None, repr=False, compare=False)
    ignore_ast: Any = field(default=None, repr=False, compare=False)


def rule_files(root: Path) -> list[Path]:
    """Every *.yaml / *.yml under root (or root itself when it is a file), sorted."""
    if root.is_file():
        return [root]
    return sorted(q for q in root.rglob("*") if q.suffix in (".yaml", ".yml") and q.is_file())


def query_where(value: Any, offset: int) -> str:
    """FILE:LINE:COL of character `offset` of a YAML string value, exact for one-line scalars."""
    if not isinstance(value, yamlsrc.Pos):
        return "<query>:1:%d" % (offset + 1)
    text = str(value)
    if value.style in ("|", ">"):
        line = value.line + 1 + text.count("\n", 0, offset)
        col = offset - (text.rfind("\n", 0, offset) + 1) + 1 + _indent(value)
        return f"{value.file}:{line}:{col}"
    quote = 1 if value.style in ("'", '"') else 0
    escapes = text.count("'", 0, offset) if value.style == "'" else 0
    return f"{value.file}:{value.line}:{value.col + quote + escapes + offset}"


def _indent(value: Any) -> int:
    try:
        lines = Path(value.file).read_text(encoding="utf-8").splitlines()
        body = lines[value.line]   # the first content line, right after the | or > line
        return len(body) - len(body.lstrip(" "))
    except (OSError, IndexError):
        return 0


class _Loader:
    """Collects entities, rules and errors over all files."""

    def __init__(self, cache: LoadCache | None = None,
                 max_alias_values: int = yamlsrc.DEFAULT_MAX_ALIAS_VALUES) -> None:
        self.cache = cache
        self.max_alias_values = max_alias_values
        self.errors: list[str] = []
        self.entity_src: dict[str, tuple[Any, list[Any]]] = {}   # name -> (name value, alias values)
        self.entities: dict[str, list[Any]] = {}                  # name -> alias ASTs
        self.file_raws: list[tuple[Path, list[Any]]] = []    # each file's list of raw rules
        self.warnings: list[str] = []

    def err(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: {message}")

    def read(self, path: Path) -> None:
        try:
            doc = (self.cache.doc(path, self.max_alias_values) if self.cache is not None
                   else yamlsrc.load_file(path, self.max_alias_values))
        except yaml.YAMLError as exc:
            self.errors.append(yamlsrc.error_location(exc, str(path)))
            return
        except (OSError, UnicodeDecodeError) as exc:
            self.err(f"{path}:1:1", f"cannot read: {exc}")
            return
        if doc is None:
            return
        if not isinstance(doc, yamlsrc.PosDict):
            self.err(yamlsrc.where(doc, f"{path}:1:1"), "a rule file is a mapping with 'entities:' and/or 'rules:'")
            return
        for key in doc:
            if key not in TOP_KEYS:
                self.err(doc.where_key(key), f"unknown top-level key {key!r} (allowed: entities, rules)")
        self.read_entities(doc.get("entities"), doc)
        rules = doc.get("rules")
        if rules is None:
            return
        if not isinstance(rules, list):
            self.err(yamlsrc.where(rules, doc.where_key("rules")), "'rules' must be a list of rules")
            return
        self.file_raws.append((path, rules))

    def read_entities(self, ents: Any, doc: Any) -> None:
        if ents is None:
            return
        if not isinstance(ents, yamlsrc.PosDict):
            self.err(yamlsrc.where(ents, doc.where_key("entities")), "'entities' must map names to alias lists")
            return
        for name, aliases in ents.items():
            where = ents.where_key(name)
            if not isinstance(name, str) or not ENTITY_RE.match(name):
                self.err(where, f"bad entity name {name!r} (use [a-z0-9_-]+)")
                continue
            if name in self.entity_src:
                first = self.entity_src[name][0]
                self.err(where, f"entity {name!r} is already defined at {first}")
                continue
            if isinstance(aliases, (str, int)):
                aliases = [aliases]
            if not isinstance(aliases, list) or not aliases:
                self.err(yamlsrc.where(aliases, where), f"entity {name!r}: give a list of aliases")
                continue
            self.entity_src[name] = (where, aliases)

    def parse_entities(self) -> None:
        for name, (_, aliases) in self.entity_src.items():
            reused = self.cache.entity(name, aliases) if self.cache is not None else None
            if reused is not None:      # the very alias list parsed last time (incremental.py)
                self.entities[name], warnings = reused
                self.warnings.extend(warnings)
                continue
            errors, warned = len(self.errors), len(self.warnings)
            asts = []
            for alias in aliases:
                ast = self.parse_query(alias, f"entity {name!r} alias")
                if ast is None:
                    continue
                refs = [n for n, _ in p.walk_terms(ast) if isinstance(n, p.Entity)]
                if refs:
                    self.err(query_where(alias, refs[0].offset),
                             f"entity {name!r}: an alias cannot refer to another entity (@{refs[0].name})")
                elif not p.positive(ast):
                    self.err(query_where(alias, 0), f"entity {name!r}: an alias cannot match by negation alone")
                else:
                    asts.append(ast)
            self.entities[name] = asts
            if self.cache is not None and len(self.errors) == errors:
                self.cache.keep_entity(name, aliases, asts, tuple(self.warnings[warned:]))

    def parse_query(self, value: Any, what: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            self.err(yamlsrc.where(value, "<rules>:1:1"), f"{what}: must be a string")
            return None
        try:
            ast = p.parse(str(value))
        except p.QuerySyntaxError as exc:
            self.err(query_where(value, exc.offset), f"{what}: {exc.message}")
            return None
        self.warn_lowercase(value, what)
        return ast

    def resolve(self, node: Any, value: Any, what: str) -> Any:
        """Replace @entity references by an OR of the entity's aliases (marked with its name).
        A node with no entity below it is returned itself, not rebuilt (most of a watch list's
        query trees: 395,000 `replace` calls at 100,000 rules before)."""
        if node.__class__ is p.Term:
            return node         # most nodes: a leaf, never changed (first, before the isinstance chain)
        if isinstance(node, p.Entity):
            if node.name not in self.entity_src:
                hint = did_you_mean(node.name, self.entity_src)
                self.err(query_where(value, node.offset), f"{what}: unknown entity @{node.name}{hint}")
                return None
            asts = self.entities.get(node.name) or []
            kids = asts[0].children if len(asts) == 1 and isinstance(asts[0], p.Or) else tuple(asts)
            return p.Or(tuple(kids), node.span, node.name)
        if isinstance(node, p.Not):
            child = self.resolve(node.child, value, what)
            return node if child is node.child else p.Not(child, node.offset, node.span)
        if isinstance(node, (p.And, p.Or)):
            if all(c.__class__ is p.Term for c in node.children):
                return node     # an OR of words (a context group): nothing to resolve below
            kids = tuple(self.resolve(c, value, what) for c in node.children)
            if all(map(operator.is_, kids, node.children)):
                return node         # no entity below: the node itself (no copy of the tree)
            return p.Or(kids, node.span, node.entity) if isinstance(node, p.Or) else p.And(kids, node.span)
        if isinstance(node, (p.Near, p.NotNear)):
            left = _flat(self.resolve(node.left, value, what))
            right = _flat(self.resolve(node.right, value, what))
            near = node if left is node.left and right is node.right else _sides(node, left, right)
            for side in (near.left, near.right):
                if side is not None and not _simple(side):
                    self.err(query_where(value, node.offset),
                             f"{what}: {node.operator.split('/')[0]} joins an entity whose aliases are not words or phrases")
                    break
            return near
        if isinstance(node, p.Scope):
            child = self.resolve(node.child, value, what)
            return node if child is node.child else p.Scope(node.field, child, node.offset, node.span)
        return node

    def warn_lowercase(self, value: Any, what: str) -> None:
        for offset, word in p.lowercase_operators(str(value)):
            self.warnings.append(f"{query_where(value, offset)}: warning: {what}: lowercase {word!r} between "
                                 f"two words is matched as a word; write {word.upper()} if you meant the "
                                 f"operator, or put the words in a phrase in quotes if you meant the word")


def _sides(node: Any, left: Any, right: Any) -> Any:
    """dataclasses.replace(node, left=left, right=right) for a Near or NotNear, directly."""
    if node.__class__ is p.Near:
        return p.Near(left, right, node.distance, node.offset, node.span, node.unit, node.ordered)
    if node.__class__ is p.NotNear:
        return p.NotNear(left, right, node.distance, node.offset, node.span, node.unit)
    return replace(node, left=left, right=right)


def _flat(node: Any) -> Any:
    """A NEAR side with nested ORs (an entity inside a group) as one flat OR of terms."""
    if not isinstance(node, p.Or) or not any(isinstance(c, p.Or) for c in node.children):
        return node
    kids = tuple(g for c in node.children for g in (_flat(c).children if isinstance(c, p.Or) else (c,)))
    return replace(node, children=kids)


def _simple(node: Any) -> bool:
    if isinstance(node, p.Term):
        return True
    return isinstance(node, p.Or) and all(isinstance(c, p.Term) for c in node.children)


def _strings(value: Any, key: str, loader: _Loader, raw: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool)
                                              for v in value):
        loader.err(yamlsrc.where(value, raw.where_key(key)), f"'{key}' must be a list of strings")
        return ()
    return tuple(str(v) for v in value)


def _scalar_checks(raw: Any, loader: _Loader, where: str) -> dict[str, Any]:
    """Validate the non-query keys of one rule; returns the clean values (a key's place is
    looked up only to report it: most rules leave most keys out)."""
    out: dict[str, Any] = {}
    get = raw.get
    rid = get("id")
    if rid is None:
        loader.err(where, "rule has no 'id'")
    elif not isinstance(rid, str) or not ID_RE.match(rid):
        loader.err(yamlsrc.where(rid, where), f"bad rule id {rid!r} (use [a-z0-9][a-z0-9-]*)")
    title = get("title")
    if title is not None and not isinstance(title, (str, int)):
        loader.err(yamlsrc.where(title, where), "'title' must be a string")
    mh = get("min_hits", 1)
    if isinstance(mh, bool) or not isinstance(mh, int) or mh < 1:
        loader.err(yamlsrc.where(mh, raw.where_key("min_hits")), f"'min_hits' must be a positive integer, not {mh!r}")
        mh = 1
    out["min_hits"] = int(mh)
    prio = get("priority", "normal")
    if prio not in PRIORITIES:
        loader.err(yamlsrc.where(prio, raw.where_key("priority")), f"'priority' must be high, normal or low, not {prio!r}")
    out["priority"] = str(prio)
    enabled = get("enabled", True)
    if not isinstance(enabled, bool):
        loader.err(yamlsrc.where(enabled, raw.where_key("enabled")), "'enabled' must be true or false")
    out["enabled"] = enabled is not False
    for key in ("tags", "channels", "languages", "feeds"):
        out[key] = _strings(get(key), key, loader, raw)
    for lang in get("languages") or ():
        if isinstance(lang, str) and not LANG_RE.match(lang):
            loader.err(yamlsrc.where(lang, where), f"language {lang!r} is not an ISO 639-1 code like 'en'")
    if out["languages"]:
        out["languages"] = tuple(x.lower() for x in out["languages"])
    names = get("channels")
    items = names if isinstance(names, list) else [names]
    if len(items) == len(out["channels"]):
        out["channel_where"] = tuple(yamlsrc.where(v, raw.where_key("channels")) for v in items)
    return out


def _build_rule(raw: Any, loader: _Loader, seen: dict[str, str]) -> Rule | None:
    where = yamlsrc.where(raw, "<rules>:1:1")
    if not isinstance(raw, yamlsrc.PosDict):
        loader.err(where, "each rule is a mapping with at least 'id' and 'query'")
        return None
    for key in raw:
        if key not in RULE_KEYS:
            loader.err(raw.where_key(key), f"unknown rule key {key!r}{did_you_mean(key, RULE_KEYS)} "
                       f"(allowed: {', '.join(RULE_KEYS)})")
    cache = loader.cache
    reused = cache.rule(raw, loader.entity_src) if cache is not None else None
    if reused is not None:      # unchanged file, unchanged entities: the same rule (incremental.py)
        rule, warnings = reused
        if rule.id in seen:
            loader.err(yamlsrc.where(raw.get("id"), where), f"duplicate rule id {rule.id!r} (first at {seen[rule.id]})")
        else:
            seen[rule.id] = yamlsrc.where(raw.get("id"), where)
        loader.warnings.extend(warnings)
        return None if loader.errors else rule
    warned = len(loader.warnings)
    clean = _scalar_checks(raw, loader, where)
    rid = raw.get("id")
    label = f"rule {rid!r}" if isinstance(rid, str) else "rule"
    if isinstance(rid, str) and ID_RE.match(rid):
        if rid in seen:
            loader.err(yamlsrc.where(rid, where), f"duplicate rule id {rid!r} (first at {seen[rid]})")
        else:
            seen[rid] = yamlsrc.where(rid, where)
    if raw.get("query") is None:
        loader.err(where, f"{label}: has no 'query'")
    asts = _rule_queries(raw, loader, label)
    if len(loader.errors):
        return None
    rule = Rule(id=str(rid), query=str(raw["query"]), title=str(raw.get("title") or rid),
                exclude=str(raw.get("exclude") or ""), ignore=str(raw.get("ignore") or ""),
                where=where, query_ast=asts["query"], exclude_ast=asts.get("exclude"),
                ignore_ast=asts.get("ignore"), **clean)
    if cache is not None:
        cache.keep(raw, rule, loader.entity_src, tuple(loader.warnings[warned:]))
    return rule


def _rule_queries(raw: Any, loader: _Loader, label: str) -> dict[str, Any]:
    """Parse, check and resolve query, exclude and ignore of one rule."""
    asts: dict[str, Any] = {}
    for key in ("query", "exclude", "ignore"):
        value = raw.get(key)
        if value is None:
            continue
        what = f"{label} {key}"
        ast = loader.parse_query(value, what)
        if ast is None:
            continue
        if key == "ignore" and (op := p.uses_operators(ast)):
            loader.err(query_where(value, _op_offset(str(value), op)), f"{what}: only OR may join ignore terms, not {op}")
            continue
        if key == "query" and not p.positive(ast):
            loader.err(query_where(value, 0), f"{what}: matches by negation alone; add a positive term")
            continue
        resolved = loader.resolve(ast, value, what)
        if key == "ignore" and (op := p.uses_operators(resolved)):
            loader.err(query_where(value, 0), f"{what}: an entity used in ignore has aliases joined by {op}")
            continue
        asts[key] = resolved
    return asts


def _op_offset(query: str, op: str) -> int:
    m = re.search(r"(?<![^\s()])" + op + r"(?![^\s()/])" if op != "NEAR" else r"NEAR", query)
    return m.start() if m else 0


def _build_all(loader: _Loader, cache: LoadCache | None, segments: list | None) -> list[Rule]:
    """Every rule in file order. A file whose raw rules and referenced entities are the very
    ones of the last load gives its rules back as a block (incremental.py); when ids repeat
    anywhere, everything is built one by one so that each duplicate is reported where it is."""
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    errors, warned_all = len(loader.errors), len(loader.warnings)
    for path, raws in loader.file_raws:
        block = cache.block(path, raws, loader.entity_src) if cache is not None else None
        if block is not None:
            found, warnings = block
            loader.warnings.extend(warnings)
        else:
            if cache is not None and cache.thin(raws):     # built last time, its YAML dropped: read again
                raws = cache.reread(path, loader.entity_src, loader.max_alias_values)
            warned = len(loader.warnings)
            found = tuple(r for r in (_build_rule(raw, loader, seen) for raw in raws) if r is not None)
            if cache is not None and not loader.errors:
                cache.keep_block(path, raws, found, loader.entity_src, tuple(loader.warnings[warned:]))
        rules.extend(found)
        if segments is not None:
            segments.append((path, found))
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        del loader.errors[errors:], loader.warnings[warned_all:]
        seen.clear()
        for path, raws in loader.file_raws:    # only to report the duplicates, with their places
            if cache is not None and cache.thin(raws):
                raws = cache.reread(path, loader.entity_src, loader.max_alias_values)
            for raw in raws:
                _build_rule(raw, loader, seen)
    return rules


def load_files(paths: list[Path], cache: LoadCache | None = None,
               max_alias_values: int = yamlsrc.DEFAULT_MAX_ALIAS_VALUES,
               segments: list | None = None,
               ) -> tuple[tuple[Rule, ...], dict[str, tuple[str, ...]], list[str], list[str]]:
    """Rules, entity aliases (as written), every error and every warning, from the given files
    (reusing what `cache` kept from the previous load of the same folder). `segments`, when
    given, receives (file, that file's rules) in file order, for the incremental index."""
    loader = _Loader(cache, max_alias_values)
    if cache is not None:
        cache.start()
    for path in paths:
        loader.read(path)
    loader.parse_entities()
    rules = _build_all(loader, cache, segments)
    entities = {name: tuple(str(a) for a in aliases) for name, (_, aliases) in loader.entity_src.items()}
    if cache is not None:
        cache.finish(paths)
    p.forget_terms()        # the leaves shared within this load; the rules keep theirs
    return (tuple(rules), entities, sorted(loader.errors, key=_location_key),
            sorted(set(loader.warnings), key=_location_key))


def _location_key(message: str) -> tuple[str, int, int]:
    m = re.match(r"(.*?):(\d+):(\d+): ", message)
    return (m.group(1), int(m.group(2)), int(m.group(3))) if m else (message, 0, 0)
