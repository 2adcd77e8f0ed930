"""Incremental reload (issue 21): what a rules reload can keep from the previous one.

Owns two caches that the RuleWatcher carries from one load to the next: each rule
file's parsed YAML document, kept while the file's modification time and size are
unchanged, and each rule built from an unchanged document, kept while the aliases of
every entity it refers to are unchanged. Editing one file therefore re-reads that file
and rebuilds its rules and the rules in other files that use an entity it defines;
everything else is reused. Every cross-file check (duplicate ids and entities, unknown
entities) still runs over the whole set on every load, so the result is the same as a
fresh load. On top of that, a file whose raw rules are unchanged and whose entities have
the same aliases hands back its whole block of rules at once, and each entity's parsed
aliases are kept while its alias list is unchanged, so an edit costs that file's rules
plus a few operations per other file; the index is then updated for the changed files
only (compile.py, RuleSet) from the previous RuleSet's, which the cache keeps.

Once all the rules of a file are built, its raw rules are dropped from its kept document
(they were most of the process's memory: 0.4 GB at 100,000 rules); the file's block keeps its
rules and, per rule, the entities it refers to and its warnings. When a block breaks
because an entity it uses changed, the unchanged file is read again (`reread`) and only
its rules that refer to a changed entity are rebuilt.

Must not decide validity: rules.py does, and only rules built without errors are kept.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from monitor.config import yamlsrc

_ENTITY_REF = re.compile(r"@([a-z0-9_-]+)")


class LoadCache:
    def __init__(self) -> None:
        self.docs: dict[Path, tuple[tuple[int, int], Any]] = {}
        self.entities: dict[str, tuple[Any, list, tuple[str, ...]]] = {}   # name -> (aliases, ASTs, warnings)
        self.blocks: dict[Path, tuple[Any, tuple, tuple, tuple[str, ...], tuple]] = {}
        # file -> (its raw rule list, its rules, (entity, aliases) they refer to, warnings,
        #          per rule: the entities it refers to, or once thinned (names, warnings))
        self.previous: Any = None       # the RuleSet built last, whose index the next one copies
        self.rules: dict[int, tuple[Any, Any, tuple, tuple[str, ...]]] = {}
        self._next_rules: dict[int, tuple[Any, Any, tuple, tuple[str, ...]]] = {}
        self.reads = 0          # YAML files parsed (for tests and the reload benchmark)
        self.built = 0          # rules built rather than reused

    def start(self) -> None:
        self._next_rules = {}
        self.reads = self.built = 0

    def finish(self, paths: list[Path]) -> None:
        keep = set(paths)
        self.docs = {p: v for p, v in self.docs.items() if p in keep}
        self.blocks = {p: v for p, v in self.blocks.items() if p in keep}
        self.rules = self._next_rules

    @staticmethod
    def thin(raws: Any) -> bool:
        return isinstance(raws, _Thin)

    def reread(self, path: Path, entity_src: dict, max_alias_values: int = yamlsrc.DEFAULT_MAX_ALIAS_VALUES) -> list:
        """The raw rules of an unchanged file whose block broke (an entity it uses changed),
        read again; its rules that use no changed entity are offered to rule() for reuse."""
        doc = yamlsrc.load_file(path, max_alias_values)
        self.reads += 1
        raws = doc.get("rules") if isinstance(doc, dict) else None
        if not isinstance(raws, list):
            return []
        stamp = self.docs[path][0] if path in self.docs else (-1, -1)
        self.docs[path] = (stamp, doc)          # the next load sees these very raws
        cached = self.blocks.get(path)
        if cached is not None and isinstance(cached[0], _Thin) and len(cached[1]) == len(raws):
            _, rules, refs, _, per_rule = cached
            changed = {n for n, aliases in refs if n not in entity_src or not _same(aliases, entity_src[n][1])}
            for raw, rule, (names, warnings) in zip(raws, rules, per_rule):
                if not changed.intersection(names) and hasattr(raw, "get"):
                    self.rules[id(raw)] = (raw, rule, self.signature(raw, entity_src), warnings)
        return raws

    # -- entities and whole files ---------------------------------------------------------
    def entity(self, name: str, aliases: list) -> tuple[list, tuple[str, ...]] | None:
        """The parsed aliases of an entity whose alias list is the one parsed last time."""
        cached = self.entities.get(name)
        if cached is None or not _same(cached[0], aliases):
            return None
        return cached[1], cached[2]

    def keep_entity(self, name: str, aliases: list, asts: list, warnings: tuple[str, ...]) -> None:
        self.entities[name] = (aliases, asts, warnings)

    def block(self, path: Path, raws: list, entity_src: dict) -> tuple[tuple, tuple[str, ...]] | None:
        """A file's rules, with their warnings, when its raw rules are the very list built last
        time and every entity they refer to has the same aliases (no per-rule work)."""
        cached = self.blocks.get(path)
        if cached is None or cached[0] is not raws:
            return None
        for name, aliases in cached[2]:
            now = entity_src.get(name)
            if now is None or not _same(aliases, now[1]):
                return None
        for raw in raws:        # carry the per-rule entries, for when the block breaks later
            entry = self.rules.get(id(raw))
            if entry is not None:
                self._next_rules[id(raw)] = entry
        return cached[1], cached[3]

    def keep_block(self, path: Path, raws: list, rules: tuple, entity_src: dict,
                   warnings: tuple[str, ...]) -> None:
        per_raw = tuple(frozenset(n for key in ("query", "exclude", "ignore")
                                  for n in _ENTITY_REF.findall(str(raw.get(key) or "")))
                        if hasattr(raw, "get") else frozenset() for raw in raws)
        names = sorted(frozenset().union(*per_raw))
        refs = tuple((n, entity_src[n][1]) for n in names if n in entity_src)
        kept = self.docs.get(path)
        if kept is None or kept[1].get("rules") is not raws or len(rules) != len(raws):
            self.blocks[path] = (raws, rules, refs, warnings, per_raw)
            return
        # every rule of the file was built: keep them, drop their raw YAML (freed as the load
        # goes, so the next files' rules reuse the memory)
        per_rule = tuple((n, self._next_rules.pop(id(raw))[3] if id(raw) in self._next_rules else ())
                         for n, raw in zip(per_raw, raws))
        thin = _Thin()
        kept[1]["rules"] = thin
        self.blocks[path] = (thin, rules, refs, warnings, per_rule)

    def doc(self, path: Path, max_alias_values: int = yamlsrc.DEFAULT_MAX_ALIAS_VALUES) -> Any:
        st = os.stat(path)
        stamp = (st.st_mtime_ns, st.st_size)
        cached = self.docs.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        doc = yamlsrc.load_file(path, max_alias_values)
        self.reads += 1
        self.docs[path] = (stamp, doc)
        return doc

    @staticmethod
    def signature(raw: Any, entity_src: dict[str, tuple[Any, list[Any]]]) -> tuple:
        """The aliases, as written, of every entity the rule's queries refer to."""
        names = sorted({n for key in ("query", "exclude", "ignore")
                        for n in _ENTITY_REF.findall(str(raw.get(key) or ""))})
        return tuple((n, tuple(str(a) for a in entity_src[n][1]) if n in entity_src else None) for n in names)

    def rule(self, raw: Any, entity_src: dict) -> tuple[Any, tuple[str, ...]] | None:
        """The rule built from this very raw mapping last time, with its warnings, if still valid."""
        cached = self.rules.get(id(raw))
        if cached is None or cached[0] is not raw or cached[2] != self.signature(raw, entity_src):
            return None
        self._next_rules[id(raw)] = cached
        return cached[1], cached[3]

    def keep(self, raw: Any, rule: Any, entity_src: dict, warnings: tuple[str, ...]) -> None:
        self.built += 1
        self._next_rules[id(raw)] = (raw, rule, self.signature(raw, entity_src), warnings)


class _Thin(list):
    """Stands, in a kept document, for the raw rules of a file built without errors: the
    rules themselves are kept, their parsed YAML (most of the memory) is not."""

    __slots__ = ()


def _same(a: Any, b: Any) -> bool:
    return a is b or a == b
