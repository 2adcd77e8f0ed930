"""Safe YAML loading that remembers where every value came from.

Config and rules report errors as `FILE:LINE:COL`; this module owns turning YAML text
into plain dicts, lists and strings that also carry their 1-based line and column.
It never executes tags (it builds on `yaml.SafeLoader`).

Aliases are shared, never copied: `*ref` gives the very object its `&anchor` built, so
building costs what the file holds. What aliases would expand the document to (values
reached through references, counted as a consumer walking the tree would meet them) is
capped at `max_alias_values`; beyond it, and for nesting deeper than `MAX_DEPTH` or an
anchor that contains itself, loading fails with a `yaml.YAMLError` that carries the
position, like a syntax error. A file without aliases is never limited by the cap.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import yaml

DEFAULT_MAX_ALIAS_VALUES = 100_000   # values reachable only through aliases, per document
MAX_DEPTH = 100                      # nested collections; real configs and rules use < 10


class Pos:
    """Mixin: where a value starts in its file (1-based line and column)."""

    file: str = "<string>"
    line: int = 0
    col: int = 0
    style: str | None = None   # for strings: None (plain), "'", '"', "|", ">"

    def where(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class PosStr(str, Pos):
    """A string that knows its position."""


class PosInt(int, Pos):
    """An integer that knows its position."""


class PosDict(dict, Pos):
    """A mapping that knows its position and the position of each key."""

    key_pos: dict[Any, tuple[int, int]]

    def where_key(self, key: Any) -> str:
        line, col = self.key_pos.get(key, (self.line, self.col))
        return f"{self.file}:{line}:{col}"


class PosList(list, Pos):
    """A sequence that knows its position."""


def _mark(obj: Pos, node: yaml.Node, file: str) -> Any:
    obj.file = file
    obj.line = node.start_mark.line + 1
    obj.col = node.start_mark.column + 1
    obj.style = getattr(node, "style", None)
    return obj


_STR_TAG = "tag:yaml.org,2002:str"
SAFE_COLLECTION_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
_FLATTENED_KEY_TAGS = {"tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"}   # what flatten_mapping changes


class YAMLLimitError(yaml.composer.ComposerError):
    """The document is well-formed but too deep, recursive or an alias bomb."""


def _c_limits_nesting() -> bool:
    """Whether this libyaml refuses nesting itself (0.2.5 and newer: 1,000 flow or block
    levels, "exceeded maximum nesting depth"), so that its C composer cannot recurse without
    bound; checked once, on a document of 1,001 levels."""
    try:
        yaml.compose("[" * 1001 + "]" * 1001, Loader=_CLoader)
    except yaml.YAMLError as exc:
        return _libyaml_too_deep(exc)
    return False


def _libyaml_too_deep(exc: yaml.YAMLError) -> bool:
    """Whether this is libyaml's own refusal of nesting past its cap."""
    return isinstance(exc, yaml.scanner.ScannerError) and "maximum nesting depth" in str(exc.problem)


# libyaml's scanner, parser and composer (PyYAML's CParser) when PyYAML was built with it:
# they are most of the cost of reading YAML (at 10,000 watch-list rules 0.48 s of CPU to
# compose in Python, 0.20 s in C). Composing in C recurses in C, which is safe only because
# libyaml caps nesting at 1,000 levels (checked above; without that cap, or without libyaml,
# PyYAML's Python composer is used, and MAX_DEPTH is enforced as it composes). The builder
# enforces MAX_DEPTH in both cases, and the alias accounting is the builder's.
_CParser: Any = getattr(importlib.import_module("yaml.cyaml"), "CParser", None) if yaml.__with_libyaml__ else None
_CLoader: Any = getattr(yaml, "CSafeLoader", None)
C_COMPOSER: bool = _CParser is not None and _CLoader is not None and _c_limits_nesting()


_Bases: tuple[type, ...] = ((yaml.composer.Composer, _CParser, yaml.constructor.SafeConstructor,
                             yaml.resolver.Resolver) if _CParser is not None else (yaml.SafeLoader,))


class _DepthLimitedLoader(*_Bases):  # type: ignore[misc]
    """A safe loader whose (recursive, Python) composer refuses nesting deeper than MAX_DEPTH
    (libyaml's scanner and parser where PyYAML has them)."""

    def __init__(self, stream: str) -> None:
        if _CParser is None:
            yaml.SafeLoader.__init__(self, stream)
            return
        _CParser.__init__(self, stream)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)

    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.depth >= MAX_DEPTH:
            event = self.peek_event()
            raise YAMLLimitError(
                None, None, f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _Builder:
    """Turns a node graph into Pos values, once per node: an alias yields the shared object."""

    def __init__(self, loader: yaml.SafeLoader, file: str, max_alias_values: int):
        self.loader, self.file, self.max_alias_values = loader, file, max_alias_values
        self.built: dict[int, Any] = {}
        self.size: dict[int, int] = {}       # values a walk of the node meets, aliases expanded
        self.active: set[int] = set()        # nodes being built: meeting one again is a cycle
        self.through_aliases = 0
        self.depth = 1                       # of the collection being built (the root is 1)

    def build(self, node: yaml.Node) -> Any:
        key = id(node)
        if key in self.active:
            raise YAMLLimitError(None, None, "an anchor refers to itself (recursive alias)",
                                              node.start_mark)
        if key in self.built:                # an alias: share, and count what it expands to
            self.through_aliases += self.size[key]
            if self.through_aliases > self.max_alias_values:
                raise YAMLLimitError(
                    None, None, f"aliases expand this document to more than {self.max_alias_values} "
                    "values (an alias bomb?)", node.start_mark)
            return self.built[key]
        self.active.add(key)
        try:
            value, size = self._construct(node)
        finally:
            self.active.discard(key)
        self.built[key], self.size[key] = value, size
        return value

    def _children(self, nodes: list[yaml.Node]) -> tuple[list[Any], int]:
        """The values of a collection's child nodes, in order, and the values a walk meets
        through them. A string met for the first time (most of a rule file) is made here, as
        construct_object would make it (node.value), and registered as build() would register
        it, for any alias of it; anything else goes through build()."""
        built, sizes, file = self.built, self.size, self.file
        out: list[Any] = []
        size = 0
        for child in nodes:
            key = id(child)
            if child.__class__ is yaml.ScalarNode and child.tag == _STR_TAG and key not in built:
                value = PosStr(child.value)
                value.file = file
                mark = child.start_mark
                value.line, value.col, value.style = mark.line + 1, mark.column + 1, child.style
                built[key] = value
                sizes[key] = 1
                size += 1
            else:
                value = self.build(child)
                size += sizes[key]
            out.append(value)
        return out, size

    def _deeper(self, first: Any) -> None:
        """One level down, to a collection's children: refused (at the first child) beyond
        MAX_DEPTH, as the Python composer refuses it (libyaml's composer has no such limit)."""
        if first and self.depth >= MAX_DEPTH:
            raise YAMLLimitError(None, None, f"nested more than {MAX_DEPTH} levels deep", first.start_mark)
        self.depth += 1

    def _construct(self, node: yaml.Node) -> tuple[Any, int]:
        file = self.file
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in SAFE_COLLECTION_TAGS:
            # Only plain maps and lists: a tag like !!python/object/apply is refused, never run.
            raise yaml.constructor.ConstructorError(None, None, f"unsupported tag {node.tag!r}", node.start_mark)
        if isinstance(node, yaml.MappingNode):
            out = _mark(PosDict(), node, file)
            out.key_pos = key_pos = {}
            if not _FLATTENED_KEY_TAGS.isdisjoint([k.tag for k, _ in node.value]):
                self.loader.flatten_mapping(node)     # merge keys (<<) and value keys (=)
            pairs = node.value
            self._deeper(pairs and pairs[0][0])
            try:
                values, size = self._children([n for pair in pairs for n in pair])
            finally:
                self.depth -= 1
            for i, (key_node, _) in enumerate(pairs):
                key = values[2 * i]
                if isinstance(key, (dict, list)):
                    key = str(key)                        # bounded: the alias cap applies first
                out[key] = values[2 * i + 1]
                mark = key_node.start_mark
                key_pos[key] = (mark.line + 1, mark.column + 1)
            return out, size + 1
        if isinstance(node, yaml.SequenceNode):
            seq = _mark(PosList(), node, file)
            self._deeper(node.value and node.value[0])
            try:
                items, size = self._children(node.value)
            finally:
                self.depth -= 1
            seq.extend(items)
            return seq, size + 1
        value = self.loader.construct_object(node, deep=True)
        if isinstance(value, bool) or value is None or isinstance(value, float):
            return value, 1
        if isinstance(value, int):
            return _mark(PosInt(value), node, file), 1
        if isinstance(value, str):
            return _mark(PosStr(value), node, file), 1
        return value, 1


def load(text: str, file: str = "<string>", max_alias_values: int = DEFAULT_MAX_ALIAS_VALUES) -> Any:
    """Parse YAML text into Pos-carrying values; raises yaml.YAMLError with a mark.

    Also for an alias bomb, an anchor inside itself and nesting beyond MAX_DEPTH.
    """
    if not C_COMPOSER:
        return _load(_DepthLimitedLoader(text), file, max_alias_values)
    try:
        return _load(_CLoader(text), file, max_alias_values)
    except yaml.composer.ComposerError as exc:
        if exc.problem != "found undefined alias" or exc.problem_mark is None:
            raise
        name = _ALIAS.match(text, exc.problem_mark.index)       # libyaml leaves the name out
        raise yaml.composer.ComposerError(None, None, f"found undefined alias {name and name[1]!r}",
                                          exc.problem_mark) from None
    except yaml.scanner.ScannerError as exc:
        if not _libyaml_too_deep(exc):
            raise
    # deeper than libyaml's 1,000 levels: the Python composer says where MAX_DEPTH was passed
    # (or, where libyaml's scanner reads that far ahead, libyaml says where 1,000 was)
    return _load(_DepthLimitedLoader(text), file, max_alias_values)


_ALIAS = re.compile(r"\*([^\s,\[\]{}]+)")


def _load(loader: Any, file: str, max_alias_values: int) -> Any:
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        return _Builder(loader, file, max_alias_values).build(node)
    except yaml.scanner.ScannerError as exc:
        if not _libyaml_too_deep(exc) or not isinstance(loader, _DepthLimitedLoader):
            raise
        raise YAMLLimitError(None, None, f"nested more than {MAX_DEPTH} levels deep", exc.problem_mark) from None
    except RecursionError:
        # a last resort (e.g. a merge key `<<:` that merges its own mapping): still a YAML error
        raise YAMLLimitError(None, None, "nested too deeply or recursive (anchor inside itself?)",
                                          None) from None
    finally:
        loader.dispose()


def load_file(path: str | Path, max_alias_values: int = DEFAULT_MAX_ALIAS_VALUES) -> Any:
    path = Path(path)
    return load(path.read_text(encoding="utf-8"), str(path), max_alias_values)


def error_location(exc: yaml.YAMLError, file: str) -> str:
    """`FILE:LINE:COL: message` for a YAML syntax error (or a YAMLLimitError)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    kind = "YAML refused" if isinstance(exc, YAMLLimitError) else "YAML syntax error"
    if mark is None:
        return f"{file}:1:1: {kind}: {problem}"
    return f"{file}:{mark.line + 1}:{mark.column + 1}: {kind}: {problem}"


def where(value: Any, fallback: str) -> str:
    return value.where() if isinstance(value, Pos) else fallback
