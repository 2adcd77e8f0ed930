"""Safe YAML loading that remembers where every value came from.

Config and rules report errors as `FILE:LINE:COL`; this module owns turning YAML text
into plain dicts, lists and strings that also carry their 1-based line and column.
It never executes tags (it builds on `yaml.SafeLoader`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


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


SAFE_COLLECTION_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


def _build(node: yaml.Node, loader: yaml.SafeLoader, file: str) -> Any:
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in SAFE_COLLECTION_TAGS:
        # Only plain maps and lists: a tag like !!python/object/apply is refused, never run.
        raise yaml.constructor.ConstructorError(None, None, f"unsupported tag {node.tag!r}", node.start_mark)
    if isinstance(node, yaml.MappingNode):
        out = _mark(PosDict(), node, file)
        out.key_pos = {}
        loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = _build(key_node, loader, file)
            if isinstance(key, (dict, list)):
                key = str(key)
            out[key] = _build(value_node, loader, file)
            out.key_pos[key] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        out = _mark(PosList(), node, file)
        out.extend(_build(n, loader, file) for n in node.value)
        return out
    value = loader.construct_object(node, deep=True)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        return _mark(PosInt(value), node, file)
    if isinstance(value, str):
        return _mark(PosStr(value), node, file)
    return value


def load(text: str, file: str = "<string>") -> Any:
    """Parse YAML text into Pos-carrying values; raises yaml.YAMLError with a mark."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        return None if node is None else _build(node, loader, file)
    finally:
        loader.dispose()


def load_file(path: str | Path) -> Any:
    path = Path(path)
    return load(path.read_text(encoding="utf-8"), str(path))


def error_location(exc: yaml.YAMLError, file: str) -> str:
    """`FILE:LINE:COL: message` for a YAML syntax error."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return f"{file}:1:1: YAML syntax error: {problem}"
    return f"{file}:{mark.line + 1}:{mark.column + 1}: YAML syntax error: {problem}"


def where(value: Any, fallback: str) -> str:
    return value.where() if isinstance(value, Pos) else fallback
