"""The loop that builds Python values from libyaml's event stream (see the package)."""

from __future__ import annotations

from typing import Any

import yaml
from yaml import events as ev
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from catalog_server.problems import Problem
from catalog_server.yamlfile.result import (
    MAX_DEPTH,
    MIN_NODE_BUDGET,
    Path,
    YamlResult,
    yaml_problem,
)

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

_YAML = "tag:yaml.org,2002:"
_MERGE = object()  # the resolved value of a `<<` merge key
_MISSING = object()
_RESOLVERS = Resolver.yaml_implicit_resolvers
_CONSTRUCT = SafeConstructor()
# Tags whose plain text is turned into a Python value; every other known tag keeps the text.
_CONVERTERS = {
    _YAML + "null": lambda n: None,
    _YAML + "bool": _CONSTRUCT.construct_yaml_bool,
    _YAML + "int": _CONSTRUCT.construct_yaml_int,
    _YAML + "float": _CONSTRUCT.construct_yaml_float,
}
_TEXT_TAGS = {_YAML + t for t in ("str", "timestamp", "binary", "value", "yaml")}
_COLLECTION_TAGS = {_YAML + t for t in ("map", "seq", "omap", "set", "pairs")}


def _pos(event: ev.Event) -> tuple[int, int]:
    return event.start_mark.line + 1, event.start_mark.column + 1


class Stop(Exception):
    def __init__(self, problem: Problem):
        super().__init__(problem.message)
        self.problem = problem


class _Frame:
    __slots__ = (
        "value",
        "path",
        "size",
        "anchor",
        "key",
        "key_path",
        "first_lines",
        "merges",
        "is_map",
        "pos",
    )

    def __init__(self, is_map: bool, path: Path | None, anchor: str | None, pos: tuple[int, int]):
        self.is_map = is_map
        self.pos = pos
        self.value: Any = {} if is_map else []
        self.path = path  # None inside a complex (collection) key: no positions there
        self.size = 1
        self.anchor = anchor
        self.key: Any = _MISSING
        self.key_path: Path | None = None
        self.first_lines: dict[Any, int] = {}
        self.merges: list[dict[Any, Any]] = []


class EventBuilder:
    def __init__(self, text: str, path: str, result: YamlResult, multi: bool):
        self.text, self.path, self.result, self.multi = text, path, result, multi
        self.budget = max(MIN_NODE_BUDGET, len(text))
        self.count = 0
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.open_anchors: set[str] = set()
        self.documents = 0
        self.scalar_cache: dict[str, tuple[Any, bool]] = {}

    def run(self) -> None:
        loader = _Loader(self.text)
        try:
            handlers = {
                ev.ScalarEvent: self.scalar,
                ev.AliasEvent: self.alias,
                ev.SequenceStartEvent: self.start,
                ev.MappingStartEvent: self.start,
                ev.SequenceEndEvent: self.end,
                ev.MappingEndEvent: self.end,
                ev.DocumentStartEvent: self.document,
            }
            while loader.check_event():
                event = loader.get_event()
                handler = handlers.get(type(event))
                if handler is not None:
                    handler(event)
        finally:
            loader.dispose()

    # -- events ---------------------------------------------------------------------------

    def document(self, event: ev.DocumentStartEvent) -> None:
        self.documents += 1
        self.anchors.clear()  # anchors do not cross documents, as in PyYAML
        if self.documents > 1 and not self.multi:
            line, column = event.start_mark.line + 1, event.start_mark.column + 1
            raise Stop(
                yaml_problem(
                    "yaml.parse",
                    f"a second YAML document starts at line {line}; "
                    "this file must hold one document",
                    self.path,
                    line,
                    column,
                )
            )

    def scalar(self, event: ev.ScalarEvent) -> None:
        self.tick(1, event)
        value, numeric = self.resolve(event)
        if event.anchor:
            self.anchors[event.anchor] = (value, 1)
        self.add(value, 1, _pos(event), event.value if numeric else None)

    def alias(self, event: ev.AliasEvent) -> None:
        name = event.anchor
        if name in self.open_anchors:
            raise self.stop(
                "yaml.alias-bomb",
                f"alias *{name} refers to a collection that "
                "contains it: the value would be infinite",
                event,
            )
        if name not in self.anchors:
            raise self.stop(
                "yaml.parse", f"alias *{name} refers to no anchor &{name} defined before it", event
            )
        value, size = self.anchors[name]
        self.tick(size, event)
        self.add(value, size, _pos(event), None)

    def start(self, event: ev.CollectionStartEvent) -> None:
        self.tick(1, event)
        if len(self.stack) >= MAX_DEPTH:
            raise self.stop("yaml.too-deep", f"nesting deeper than {MAX_DEPTH} levels", event)
        self.check_tag(event.tag, event)
        frame = _Frame(
            isinstance(event, ev.MappingStartEvent),
            self.child_path(event),
            event.anchor,
            _pos(event),
        )
        if event.anchor:
            self.open_anchors.add(event.anchor)
        self.stack.append(frame)

    def end(self, event: ev.CollectionEndEvent) -> None:
        frame = self.stack.pop()
        value = frame.value
        if frame.merges:
            merged: dict[Any, Any] = {}
            for source in reversed(frame.merges):  # the first source listed wins
                merged.update(source)
            merged.update(value)  # explicit keys win over merged ones
            value = merged
        if frame.anchor:
            self.open_anchors.discard(frame.anchor)
            self.anchors[frame.anchor] = (value, frame.size)
        self.add(value, frame.size, frame.pos, None, collection=True)

    # -- building -------------------------------------------------------------------------

    def tick(self, size: int, event: ev.Event) -> None:
        self.count += size
        if self.count > self.budget:
            raise self.stop(
                "yaml.alias-bomb",
                f"aliases expand to more than {self.budget} "
                "nodes (a 'billion laughs' document); use fewer nested aliases",
                event,
            )

    def child_path(self, event: ev.Event) -> Path | None:
        if not self.stack:
            path: Path = (self.documents - 1,) if self.multi else ()
            return path
        parent = self.stack[-1]
        if parent.path is None:
            return None
        if not parent.is_map:
            path = (*parent.path, len(parent.value))
            self.result.positions[path] = _pos(event)
            return path
        if parent.key is _MISSING:
            return None  # a collection used as a key: reported when it is added
        return parent.key_path

    def add(
        self, value: Any, size: int, pos: tuple[int, int], raw: str | None, collection: bool = False
    ) -> None:
        if not self.stack:
            if self.multi:
                self.result.value.append(value)
            else:
                self.result.value = value
            return
        parent = self.stack[-1]
        parent.size += size
        if not parent.is_map:
            if not collection and parent.path is not None:  # collections recorded at start
                path = (*parent.path, len(parent.value))
                self.result.positions[path] = pos
                if raw is not None:
                    self.result.raw_scalars[path] = raw
            parent.value.append(value)
        elif parent.key is _MISSING:
            self.add_key(parent, value, pos)
        else:
            key, parent.key = parent.key, _MISSING
            if key is _MERGE:
                self.add_merge(parent, value, pos)
            else:
                if raw is not None and parent.key_path is not None:
                    self.result.raw_scalars[parent.key_path] = raw
                parent.value[key] = value

    def add_key(self, parent: _Frame, key: Any, pos: tuple[int, int]) -> None:
        line, column = pos
        if isinstance(key, dict | list):
            raise Stop(
                yaml_problem(
                    "yaml.parse",
                    f"the mapping key at line {line} is itself a "
                    "mapping or list; keys must be plain values (is a `{{ }}` "
                    "template expression meant to be quoted?)",
                    self.path,
                    line,
                    column,
                )
            )
        parent.key = key
        parent.key_path = (*parent.path, key) if parent.path is not None else None
        if key is _MERGE:
            return
        first = parent.first_lines.get(key)
        if first is not None:
            self.result.problems.append(
                yaml_problem(
                    "yaml.duplicate-key",
                    f"duplicate key {key!r}: first at line {first}; the last value wins",
                    self.path,
                    line,
                    column,
                    blocking=False,
                    severity="warning",
                )
            )
        else:
            parent.first_lines[key] = line
        if parent.key_path is not None:
            self.result.positions[parent.key_path] = pos

    def add_merge(self, parent: _Frame, value: Any, pos: tuple[int, int]) -> None:
        sources = value if isinstance(value, list) else [value]
        if not all(isinstance(s, dict) for s in sources):
            raise Stop(
                yaml_problem(
                    "yaml.parse",
                    "a merge key `<<` must be given a mapping or a list of mappings",
                    self.path,
                    *pos,
                )
            )
        parent.merges.extend(sources)

    def resolve(self, event: ev.ScalarEvent) -> tuple[Any, bool]:
        """The Python value of a scalar, and whether it is a number (keep the raw text)."""
        tag, text = event.tag, event.value
        if tag is None and event.implicit[0]:
            cached = self.scalar_cache.get(text)
            if cached is not None:
                return cached
            resolved = self.plain(text)
            self.scalar_cache[text] = resolved
            return resolved
        if tag is None or tag == "!" or tag in _TEXT_TAGS:
            return text, False
        convert = _CONVERTERS.get(tag)
        if convert is None:
            self.check_tag(tag, event)
            return text, False
        try:
            value = convert(ScalarNode(tag, text))
        except (ValueError, TypeError, yaml.YAMLError) as exc:
            raise self.stop(
                "yaml.parse", f"{text!r} is not a valid {tag.rsplit(':', 1)[-1]} ({exc})", event
            ) from None
        return value, isinstance(value, int | float) and not isinstance(value, bool)

    @staticmethod
    def plain(text: str) -> tuple[Any, bool]:
        for tag, regexp in _RESOLVERS.get(text[0] if text else "", ()):
            if regexp.match(text):
                if tag == _YAML + "merge":
                    return _MERGE, False
                convert = _CONVERTERS.get(tag)
                if convert is None:  # timestamps, `=`: kept as written
                    return text, False
                value = convert(ScalarNode(tag, text))
                return value, tag in (_YAML + "int", _YAML + "float")
        return text, False

    def check_tag(self, tag: str | None, event: ev.Event) -> None:
        if tag is None or tag == "!" or tag in _COLLECTION_TAGS or tag in _TEXT_TAGS:
            return
        if tag in _CONVERTERS:
            return
        line, column = event.start_mark.line + 1, event.start_mark.column + 1
        self.result.problems.append(
            yaml_problem(
                "yaml.unknown-tag",
                f"tag {tag} is not a standard YAML tag; it is ignored and the "
                "value read as untagged",
                self.path,
                line,
                column,
                blocking=False,
                severity="warning",
            )
        )

    def stop(self, rule: str, message: str, event: ev.Event) -> Stop:
        mark = event.start_mark
        return Stop(yaml_problem(rule, message, self.path, mark.line + 1, mark.column + 1))
