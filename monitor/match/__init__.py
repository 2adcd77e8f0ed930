"""The watch-rule language: load rule files, compile them once, match articles, explain why.

Public surface (others code against exactly this):

    load_rules(path) -> RuleSet          raises RuleError listing every FILE:LINE:COL problem
    check_rules(path) -> CheckedRules    the same validation, without compiling (`rules check`, `status`)
    RuleSet.rules, RuleSet.entities, RuleSet.warnings, RuleSet.match(doc) -> list[Match]
    RuleSet.explain(doc) -> [(rule, match or None, reason)]   for `monitor rules test`
    RuleWatcher(path)                    hot reload: .current, .errors, .refresh()

Modules: translit (Cyrillic and Greek letters), sentences (sentence and paragraph
boundaries), text (normalise, tokenise, offsets), nodes (the query tree), parse (query
-> tree), rules (YAML, validation, entities, warnings), compile (one automaton for all
rules), presearch (the rules an article can fire), evaluate (semantics and hits), proximity (NEAR and friends in bounded time), why
(the decisive clauses of a match), reload (the watcher). Must not do I/O beyond reading
rule files.
"""

from __future__ import annotations

import gc
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any

from monitor.config import yamlsrc
from monitor.errors import RuleError
from monitor.match.compile import Index, compile_rules
from monitor.match.evaluate import (
    Context,
    applies,
    doc_language,
    evaluate,
    index_fields,
    renamed,
    scan,
    verdict,
)
from monitor.match.incremental import LoadCache
from monitor.match.rules import Rule, load_files, rule_files
from monitor.models import Match

__all__ = ["load_rules", "check_rules", "CheckedRules", "RuleSet", "Rule", "RuleWatcher"]

_first = itemgetter(0)


class RuleSet:
    """A validated, compiled set of rules. Immutable after construction; safe to share."""

    def __init__(self, rules: tuple[Rule, ...], entities: dict[str, tuple[str, ...]] | None = None,
                 files: tuple[Path, ...] = (), warnings: tuple[str, ...] = (), *,
                 segments: list[tuple[Path, tuple[Rule, ...]]] | None = None, previous: RuleSet | None = None):
        """`segments` (each file's rules, in order, adding up to `rules`) and `previous` (the
        set this one replaces) let the index be updated for the changed files only."""
        self.rules = tuple(rules)
        self.entities = dict(entities or {})
        self.files = files
        self.warnings = tuple(warnings)     # FILE:LINE:COL: warning: ... (the set is still valid)
        if segments is None or previous is None or previous._segments is None:
            self._compiled = compile_rules(self.rules)
            refs = list(range(len(self.rules)))
            self._next_ref = len(self.rules)
        else:
            self._compiled, refs = self._update(previous, segments)
        # file -> (its rules, their refs), for the next incremental update
        self._segments: dict[Path, tuple[tuple[Rule, ...], tuple[int, ...]]] | None = None
        if segments is not None:
            self._segments, at = {}, 0
            for path, found in segments:
                self._segments[path] = (found, tuple(refs[at:at + len(found)]))
                at += len(found)
        self._rank = dict(zip(refs, range(len(refs))))     # ref -> position in rule order
        self._groups: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {}   # see _group

    def _update(self, previous: RuleSet, segments: list[tuple[Path, tuple[Rule, ...]]]) -> tuple[Index, list[int]]:
        """The previous index, copied, with the rules of changed files removed and re-added."""
        old = previous._segments or {}
        index = previous._compiled.copy()
        self._next_ref = previous._next_ref
        refs: list[int] = []
        kept: set[Path] = set()
        for path, found in segments:
            was = old.get(path)
            if was is not None and same_rules(was[0], found):
                refs.extend(was[1])
                kept.add(path)
                continue
            if was is not None:
                for ref in was[1]:
                    index.remove(ref)
                kept.add(path)
            for rule in found:
                index.add(self._next_ref, rule)
                refs.append(self._next_ref)
                self._next_ref += 1
        for path, (_, gone) in old.items():
            if path not in kept:
                for ref in gone:
                    index.remove(ref)
        return index.finish(), refs

    def __len__(self) -> int:
        return len(self.rules)

    def __reduce__(self) -> tuple:
        """Pickled as one nested pickle, unpickled with the cyclic garbage collector paused
        (as the daemon ships the set to its workers): the set is millions of small objects,
        none of them garbage, and each collection the unpickling triggers walks them all."""
        state = {k: v for k, v in self.__dict__.items() if k != "_groups"}
        with gc_paused():
            return (_restore, (pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL),))

    def _group(self, refs: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """A plan's rules by position in rule order: those without language or feed filters,
        which apply to every article, and the others (found once per plan, when it is first
        a candidate: 12,500 of 100,000 watch-list rules share 247 country queries)."""
        ats = [self._rank[ref] for ref in refs]
        rules = self.rules
        return (tuple(at for at in ats if not rules[at].languages and not rules[at].feeds),
                tuple(at for at in ats if rules[at].languages or rules[at].feeds))

    def match(self, doc: Any) -> list[Match]:
        """The rules that fire on doc (title, summary, text, language, feed_tags), in rule order.
        Rules with the same query (one plan, compile.py) are evaluated once; each of them
        that passes its own language and feed filters gets that match under its own name."""
        compiled = self._compiled
        fields = index_fields(doc)
        occ = scan(compiled, fields)
        present = compiled.present(occ)
        candidates = set(compiled.always)
        by_key = compiled.by_key
        for key in by_key.keys() & present:
            candidates.update(by_key[key])
        plain = Context(compiled, occ, fields)
        plans = compiled.plans
        rules = self.rules
        groups = self._groups
        lang = doc_language(doc)
        out = []
        for pid in candidates:
            rule, need, _, refs = plans[pid]
            for clause in need:
                if clause.isdisjoint(present):
                    break       # a key the query cannot hold without is absent (presearch.py)
            else:
                group = groups.get(pid)
                if group is None:
                    group = groups[pid] = self._group(refs)
                ats, filtered = group
                if filtered:
                    ats = (*ats, *(at for at in filtered if applies(rules[at], doc, lang)))
                if len(refs) == 1:
                    if ats:
                        m = evaluate(rules[ats[0]], compiled, occ, fields, plain)
                        if m is not None:
                            out.append((ats[0], m))
                elif ats:
                    m = evaluate(rule, compiled, occ, fields, plain)
                    if m is not None:
                        out.extend((at, renamed(m, rules[at])) for at in ats)
        out.sort(key=_first)    # rule order (the few matches, not every candidate)
        return [m for _, m in out]

    def explain(self, doc: Any) -> list[tuple[Rule, Match | None, str]]:
        """Every rule with its match (or None) and the reason, slower than match(); for people."""
        compiled = self._compiled
        fields = index_fields(doc)
        occ = scan(compiled, fields)
        plain = Context(compiled, occ, fields)
        return [(rule, *verdict(rule, compiled, occ, fields, plain, doc)) for rule in self.rules]


def same_rules(a: tuple[Rule, ...], b: tuple[Rule, ...]) -> bool:
    """Whether two files' rules are the very same objects (the file did not change: the load
    cache gave its rules back), in order."""
    return len(a) == len(b) and all(x is y for x, y in zip(a, b))


def _restore(state: bytes) -> RuleSet:
    with gc_paused():
        ruleset = RuleSet.__new__(RuleSet)
        ruleset.__dict__.update(pickle.loads(state))
        ruleset._groups = {}
    return ruleset


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a rule set is built or unpickled, and what was
    built frozen (gc.freeze) before it is turned on again. Loading makes no cyclic garbage,
    but at 100,000 rules it makes millions of objects: collections during the load cost a
    large share of its time, and the first collection after it walked them all (a 2.4 s
    pause in the first match). Frozen objects are still freed by reference counting when
    the rule set is replaced; young garbage of others is collected first (generation 1)."""
    was = gc.isenabled()
    gc.collect(1)
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was:
            gc.enable()


@dataclass(frozen=True)
class CheckedRules:
    """Every rule of a folder, validated (and valid), before compiling."""
    rules: tuple[Rule, ...]
    entities: dict[str, tuple[str, ...]]
    files: tuple[Path, ...]
    warnings: tuple[str, ...]
    segments: list[tuple[Path, tuple[Rule, ...]]]


def check_rules(path: str | Path, cache: LoadCache | None = None, *,
                max_alias_values: int = yamlsrc.DEFAULT_MAX_ALIAS_VALUES) -> CheckedRules:
    """Every rule file under path, validated but not compiled; RuleError lists every problem.
    Compiling never finds an error of its own, so this is `load_rules`'s verdict at a fraction
    of its time (what `rules check` and `status` need)."""
    root = Path(path)
    if not root.exists():
        raise RuleError([f"{root}:1:1: rules folder not found"])
    files = rule_files(root)
    segments: list = []
    try:
        with gc_paused():
            rules, entities, errors, warnings = load_files(files, cache, max_alias_values, segments)
    except RecursionError:   # the YAML and query limits stop this first; never a traceback
        raise RuleError([f"{root}:1:1: the rules are nested too deeply to read"]) from None
    if errors:
        raise RuleError(errors)
    return CheckedRules(tuple(rules), dict(entities), tuple(files), tuple(warnings), segments)


def load_rules(path: str | Path, cache: LoadCache | None = None, *,
               max_alias_values: int = yamlsrc.DEFAULT_MAX_ALIAS_VALUES) -> RuleSet:
    """Every rule file under path, validated and compiled; RuleError lists every problem.
    With a cache (the RuleWatcher's), unchanged files and rules are reused (incremental.py).
    `max_alias_values` is the YAML alias cap (config `rules.max_alias_values`, see yamlsrc)."""
    checked = check_rules(path, cache, max_alias_values=max_alias_values)
    previous = cache.previous if cache is not None else None
    with gc_paused():
        ruleset = RuleSet(checked.rules, checked.entities, checked.files, checked.warnings,
                          segments=checked.segments, previous=previous)
    if cache is not None:
        cache.previous = ruleset
    return ruleset


from monitor.match.reload import RuleWatcher  # noqa: E402  (reload needs load_rules above)
