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


class YAMLLimitError(yaml.composer.ComposerError):
    """The document is well-formed but too deep, recursive or an alias bomb."""


# libyaml's scanner and parser (PyYAML's CParser) when PyYAML was built with it: they are
# most of the cost of reading YAML (0.5 s of CPU for the shipped rule pack in pure Python,
# a sixth of that with libyaml). The composer stays PyYAML's Python one, below, so the
# depth limit and the alias accounting apply as before; libyaml's parser keeps its own
# stack (no C recursion on deep nesting).
_CParser: Any = getattr(importlib.import_module("yaml.cyaml"), "CParser", None) if yaml.__with_libyaml__ else None
_Bases: tuple[type, ...] = ((yaml.composer.Composer, _CParser, yaml.constructor.SafeConstructor,
                             yaml.resolver.Resolver) if _CParser is not None else (yaml.SafeLoader,))


class _DepthLimitedLoader(*_Bases):  # type: ignore[misc]
    """A safe loader whose (recursive, Python) composer refuses nesting deeper than MAX_DEPTH."""

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

    def _count(self, child: yaml.Node) -> tuple[Any, int]:
        key = id(child)
        if child.__class__ is yaml.ScalarNode and child.tag == _STR_TAG and key not in self.built:
            # a string met for the first time (most of a rule file): what construct_object
            # gives for it is node.value; built and sized as build() would, for any alias of it
            value = PosStr(child.value)
            value.file = self.file
            mark = child.start_mark
            value.line, value.col, value.style = mark.line + 1, mark.column + 1, child.style
            self.built[key], self.size[key] = value, 1
            return value, 1
        value = self.build(child)
        return value, self.size[key]

    def _construct(self, node: yaml.Node) -> tuple[Any, int]:
        file = self.file
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in SAFE_COLLECTION_TAGS:
            # Only plain maps and lists: a tag like !!python/object/apply is refused, never run.
            raise yaml.constructor.ConstructorError(None, None, f"unsupported tag {node.tag!r}", node.start_mark)
        if isinstance(node, yaml.MappingNode):
            out = _mark(PosDict(), node, file)
            out.key_pos = {}
            self.loader.flatten_mapping(node)
            size = 1
            for key_node, value_node in node.value:
                key, ks = self._count(key_node)
                if isinstance(key, (dict, list)):
                    key = str(key)                        # bounded: the alias cap applies first
                out[key], vs = self._count(value_node)
                size += ks + vs
                out.key_pos[key] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            return out, size
        if isinstance(node, yaml.SequenceNode):
            seq = _mark(PosList(), node, file)
            size = 1
            for n in node.value:
                item, s = self._count(n)
                seq.append(item)
                size += s
            return seq, size
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
    loader = _DepthLimitedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        return _Builder(loader, file, max_alias_values).build(node)
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
